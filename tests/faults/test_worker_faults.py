"""A Celery worker killed in the middle of a task: the task runs again and its effect happens once.

The task is the rollup refresh, caught mid-way: the test holds the refresh's advisory lock, so the task
waits inside its transaction until the worker is killed. ``task_acks_late`` keeps the message
unacknowledged while it runs; ``task_reject_on_worker_lost`` puts it back in the queue when the pool
process dies under it (the quick variant, in ``make test``); when the whole worker dies, Redis hands the
message to another worker after the visibility timeout (``make faults``). Either way the rollups end up
counting every reading once: the refresh claims its work in the same transaction that writes the result.
"""

import contextlib
import datetime
import json
import time

import psycopg
import pytest
import requests
from celery import Celery

from analytics.rollups.postgres import REFRESH_LOCK
from tests.faults.clients import reading_for
from tests.faults.conftest import WELLS
from tests.faults.stack import OPERATOR, sign_in, wait_for, well_ids

# Readings of every well each 10 minutes over 3 hours, so the refresh has hours of several wells to do.
HOURS = 3
VISIBILITY_TIMEOUT_S = 10

# The rollup's count of readings per well and hour, against a count from the raw readings.
ROLLUP_MISMATCHES = """
SELECT count(*)
FROM (SELECT well_id, date_trunc('hour', time) AS bucket, count(*) AS readings
      FROM telemetry_reading GROUP BY 1, 2) raw
FULL JOIN analytics_telemetry_hourly_rollup rollup USING (well_id, bucket)
WHERE raw.readings IS DISTINCT FROM rollup.reading_count
"""
WAITING_FOR_REFRESH_LOCK = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s"


def store_readings(stack):
    web = stack.web()
    token = sign_in(web.base, OPERATOR)
    start = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    times = [start - datetime.timedelta(hours=HOURS) + datetime.timedelta(minutes=10 * n) for n in range(6 * HOURS)]
    batch = [reading_for(well, moment.strftime("%Y-%m-%dT%H:%M:%SZ")) for well in well_ids(WELLS) for moment in times]
    response = requests.post(
        f"{web.base}/api/v1/telemetry/batch",
        data=json.dumps({"readings": batch}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return len(batch)


@contextlib.contextmanager
def refresh_held(stack):
    """Hold the rollup refresh's advisory lock from a session of the test's own until the block ends."""
    holder = psycopg.connect(stack.database_url)
    holder.autocommit = True
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [REFRESH_LOCK])
        yield
    finally:
        holder.close()


def refresh_waiting(stack):
    return stack.cluster.execute(WAITING_FOR_REFRESH_LOCK % REFRESH_LOCK, stack.database)[0][0] > 0


def rollup_mismatches(stack):
    return stack.cluster.execute(ROLLUP_MISMATCHES, stack.database)[0][0]


def send_refresh(stack):
    return Celery(broker=stack.redis.url(0)).send_task("analytics.refresh_rollups").id


def test_a_pool_process_killed_mid_task_has_its_task_run_again_once(stack, outcome):
    readings = store_readings(stack)
    worker = stack.worker(concurrency=1)
    with refresh_held(stack):
        task = send_refresh(stack)
        wait_for(lambda: refresh_waiting(stack), stack.logs, 120)
        (pool_process,) = worker.tree()[1:]
        pool_process.kill()  # SIGKILL, as the kernel's out-of-memory killer would
        killed = time.monotonic()
        wait_for(lambda: "WorkerLostError" in worker.log(10**6), stack.logs, 60)
    waited, _ = wait_for(lambda: f"{task}] succeeded" in worker.log(10**6), stack.logs, 120)

    assert rollup_mismatches(stack) == 0
    assert worker.log(10**6).count(f"{task}] received") == 2
    outcome(
        fault="the Celery pool process running analytics.refresh_rollups SIGKILLed mid-task",
        readings=readings,
        task_received=2,
        task_succeeded_s_after_kill=round(time.monotonic() - killed, 2),
        rollup_hours_wrong=0,
        waited_s=round(waited, 2),
    )


@pytest.mark.long_fault
def test_a_whole_worker_killed_mid_task_has_its_task_run_once_by_another(stack, outcome):
    readings = store_readings(stack)
    options = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT_S)}
    first = stack.worker("worker-1", concurrency=1, **options)
    with refresh_held(stack):
        task = send_refresh(stack)
        wait_for(lambda: refresh_waiting(stack), stack.logs, 120)
        assert f"{task}] received" in first.log(10**6)
        first.kill()  # the worker and its pool, SIGKILL: nothing acknowledged, nothing requeued by it
        killed = time.monotonic()
    second = stack.worker("worker-2", concurrency=1, **options)
    wait_for(lambda: f"{task}] succeeded" in second.log(10**6), stack.logs, VISIBILITY_TIMEOUT_S + 120)

    assert rollup_mismatches(stack) == 0
    outcome(
        fault="a whole Celery worker SIGKILLed mid-task (analytics.refresh_rollups), a second worker running",
        readings=readings,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        task_succeeded_on_other_worker_s_after_kill=round(time.monotonic() - killed, 2),
        rollup_hours_wrong=0,
    )
