"""Redis stopped, then frozen (SIGSTOP), while devices send readings over HTTP and MQTT and a Celery worker
runs: ingest does not depend on Redis (the cache's short timeouts keep a frozen one from holding requests),
and once Redis is back the worker takes tasks again. In ``make faults`` (about 20 s; ``make test`` has
tests/accounts/test_redis_outage.py for the web side).
"""

import time

import pytest
from celery import Celery

from tests.faults.conftest import WELLS
from tests.faults.scenario import Ingest
from tests.faults.stack import wait_for, well_ids

HTTP_WELLS = well_ids(WELLS)[: WELLS // 2]
MQTT_WELLS = well_ids(WELLS)[WELLS // 2 :]
# How long each fault lasts (the fault itself, not a wait for an event).
OUTAGE_S = 5


def worker_refreshes_rollups(stack, worker):
    """Send the rollup refresh through the stack's Redis; seconds until the worker says it has done it."""
    app = Celery(broker=stack.redis.url(0))
    started = time.monotonic()
    task = app.send_task("analytics.refresh_rollups")
    wait_for(lambda: f"{task.id}] succeeded" in worker.log(10**6), stack.logs, 120)
    return round(time.monotonic() - started, 2)


@pytest.mark.long_fault
def test_ingest_goes_on_while_redis_is_stopped_or_frozen_and_the_worker_resumes(stack, outcome):
    web = stack.web()
    stack.bridge()
    worker = stack.worker()
    ingest = Ingest(stack, web, HTTP_WELLS, MQTT_WELLS)
    ingest.start()

    stopped = time.monotonic()
    stack.redis.stop()
    time.sleep(OUTAGE_S)
    stack.redis.start()
    restarted = time.monotonic()
    after_stop = worker_refreshes_rollups(stack, worker)

    frozen = time.monotonic()
    stack.redis.freeze()
    time.sleep(OUTAGE_S)
    stack.redis.thaw()
    thawed = time.monotonic()
    after_freeze = worker_refreshes_rollups(stack, worker)

    figures = ingest.assert_stored_exactly_once()
    http_while_stopped = ingest.http_outcomes(stopped, restarted)
    http_while_frozen = ingest.http_outcomes(frozen, thawed)
    assert set(http_while_stopped) == {"201"}, http_while_stopped
    assert set(http_while_frozen) == {"201"}, http_while_frozen
    outcome(
        fault=f"Redis stopped (SIGTERM) for {OUTAGE_S} s, then frozen (SIGSTOP) for {OUTAGE_S} s",
        http_answers_while_stopped=http_while_stopped,
        http_answers_while_frozen=http_while_frozen,
        worker_refreshed_rollups_s_after_restart=after_stop,
        worker_refreshed_rollups_s_after_thaw=after_freeze,
        **figures,
    )
