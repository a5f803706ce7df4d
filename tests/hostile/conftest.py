"""What the hostile-input tests share: a row count of every table a request could write, the sender that
judges each answer, and the tally of inputs tried printed at the end of the run (README "Reliability")."""

import collections
import time

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User

from tests.api_error_body import error_body_problems

TALLY = collections.Counter()
# Apps whose tables hold what the platform's users and devices send (not the audit log or token ledger,
# which record refusals on purpose).
WRITTEN_APPS = ("wells", "telemetry", "analytics", "alarms", "operations")
# Far above what any of these requests takes; only a hang or a sleep that reached PostgreSQL comes near.
CEILING_SECONDS = 30.0


def pytest_terminal_summary(terminalreporter):
    if TALLY["inputs"]:
        terminalreporter.write_line(
            f"Hostile inputs: {TALLY['inputs']} tried ({TALLY['api']} API, {TALLY['forms']} dashboard forms, "
            f"{TALLY['mqtt']} MQTT), {TALLY['refused']} refused with a 4xx or rejected, "
            f"{TALLY['answered']} fair questions answered (free-text searches, valid instants), "
            f"{TALLY['problems']} problems, {TALLY['error_body_gaps']} 4xx bodies without the API's error shape"
        )


def body_of(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def row_counts():
    models = [model for label in WRITTEN_APPS for model in apps.get_app_config(label).get_models()]
    return {model._meta.label: model.objects.count() for model in [*models, User, Group]}


class Sender:
    """Sends hostile requests and gathers what is wrong with each answer; ``verdict()`` judges them."""

    def __init__(self):
        self.problems = []
        self.error_body_gaps = []
        self.rows_before = None  # counted at the first request, after the test's own fixtures wrote theirs

    def send(self, client, method, url, body=None, content_type="application/json", *, label, within=None, **meta):
        """One request; its answer must be a 4xx with a JSON body (the API's error body), in ``within`` s."""
        TALLY["inputs"] += 1
        TALLY["api"] += 1
        if self.rows_before is None:
            self.rows_before = row_counts()
        started = time.monotonic()
        if body is None:
            response = client.generic(method, url, **meta)
        else:
            response = client.generic(method, url, body, content_type=content_type, **meta)
        elapsed = time.monotonic() - started
        where = f"{label}: {method} {url[:80]}"
        if not 400 <= response.status_code < 500:
            self.problems.append(f"{where} answered {response.status_code}: {body_of(response)[:200]!r}")
            return response
        TALLY["refused"] += 1
        if not response.get("Content-Type", "").startswith("application/json"):
            self.problems.append(f"{where} answered {response.status_code} without a JSON body")
            return response
        if elapsed > (within or CEILING_SECONDS):
            self.problems.append(f"{where} took {elapsed:.1f} s")
        gaps = error_body_problems(response.status_code, response.json(), response.headers)
        self.error_body_gaps += [f"{where}: {gap}" for gap in gaps]
        return response

    def verdict(self):
        """Fails on any problem, row written or answer without the API's error body."""
        leaked = {
            table: (before, after)
            for (table, before), after in zip(self.rows_before.items(), row_counts().values(), strict=True)
            if before != after
        }
        self.problems += [f"{table}: {before} rows before, {after} after" for table, (before, after) in leaked.items()]
        TALLY["problems"] += len(self.problems)
        TALLY["error_body_gaps"] += len(self.error_body_gaps)
        assert not self.problems, "\n".join(self.problems)
        assert not self.error_body_gaps, "\n".join(self.error_body_gaps)


@pytest.fixture
def hostile(db):
    return Sender()
