"""PostgreSQL restarted, and stopped for 30 s, while devices send readings over HTTP and MQTT.

The web server answers 503 with Retry-After while the database is away (config/middleware.py) and the
gateways retry; the bridge keeps what it took unacknowledged and retries with backoff (the broker queues
the rest). Afterwards every acknowledged reading is stored exactly once. The restart is part of
``make test``; the 30 s outage runs in ``make faults``.
"""

import time

import pytest

from tests.faults.conftest import WELLS
from tests.faults.scenario import Ingest, timed
from tests.faults.stack import wait_for, well_ids

HTTP_WELLS = well_ids(WELLS)[: WELLS // 2]
MQTT_WELLS = well_ids(WELLS)[WELLS // 2 :]
OUTAGE_S = 30


def ingesting(stack):
    web = stack.web()
    stack.bridge()
    ingest = Ingest(stack, web, HTTP_WELLS, MQTT_WELLS)
    ingest.start()
    return ingest


def test_a_database_restart_during_ingest_loses_and_doubles_nothing(stack, outcome):
    ingest = ingesting(stack)

    down, up = timed(stack.cluster.restart)
    recovery = ingest.recovered_after(up)

    figures = ingest.assert_stored_exactly_once()
    outcome(
        fault="PostgreSQL restarted (pg_ctl restart -m fast)",
        restart_s=round(up - down, 2),
        http_answers=ingest.http_outcomes(),
        recovery_after_restart=recovery,
        **figures,
    )


@pytest.mark.long_fault
def test_a_database_down_for_30_seconds_during_ingest_loses_and_doubles_nothing(stack, outcome):
    ingest = ingesting(stack)

    down, _ = timed(lambda: stack.cluster.stop("immediate"))
    wait_for(lambda: ingest.answers.outcomes(since=down).get("503", 0) > 0, lambda: stack.logs(), 60)
    time.sleep(max(0.0, down + OUTAGE_S - time.monotonic()))  # the outage itself, not a wait for an event
    _, up = timed(stack.cluster.start)
    recovery = ingest.recovered_after(up)

    figures = ingest.assert_stored_exactly_once()
    outcome(
        fault=f"PostgreSQL stopped (crash, -m immediate) for {OUTAGE_S} s, then started",
        outage_s=round(up - down, 1),
        http_answers_during=ingest.http_outcomes(down, up),
        http_answers_all=ingest.http_outcomes(),
        recovery_after_start=recovery,
        bridge_database_errors=stack.processes[1].log(10**7).count("not acknowledged, retrying"),
        **figures,
    )
