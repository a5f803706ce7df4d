"""Fixtures of the fault tests: the throwaway PostgreSQL cluster (one per run), a stack per test, and the
outcome each fault test reports (printed, and kept in build/faults/outcomes.jsonl for the README)."""

import json
import time
from pathlib import Path

import pytest

from tests.faults.stack import OPERATOR, VIEWER, Cluster, Stack, well_ids

# Wells in the template: the first half report over HTTP, the second half over MQTT.
WELLS = 40
OUTCOMES = Path(__file__).resolve().parents[2] / "build" / "faults" / "outcomes.jsonl"


@pytest.fixture(scope="session")
def cluster():
    running = Cluster(WELLS, [(OPERATOR, "operator"), (VIEWER, "viewer")])
    yield running
    running.remove()


@pytest.fixture
def stack(cluster):
    running = Stack(cluster, mqtt_users=well_ids(WELLS))
    yield running
    running.close()


@pytest.fixture
def outcome(request):
    """Call with the figures of the fault (what clients saw, time to recover...): printed and kept."""

    def report(**figures):
        line = {"test": request.node.name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
        OUTCOMES.parent.mkdir(parents=True, exist_ok=True)
        with OUTCOMES.open("a") as file:
            file.write(json.dumps(line) + "\n")
        print(json.dumps(line))

    return report
