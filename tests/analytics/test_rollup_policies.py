"""TimescaleDB only: the rollups' policy jobs run when the platform's beat tasks do, whatever TimescaleDB's
scheduler manages (2.28 fails every job on PostgreSQL 15.20+), and the status says how they went."""

import datetime
import json

import pytest
from django.db import connection
from django.utils import timezone

from analytics.rollups import expire_rollups, refresh_rollups, timescaledb
from telemetry.ingest import ReadingIn, ingest_readings
from telemetry.storage import storage_status

pytestmark = [pytest.mark.timescaledb, pytest.mark.django_db(transaction=True)]


def rollup_job(proc_name, relation):
    (job,) = [job for job in storage_status()["jobs"] if (job["proc_name"], job["relation"]) == (proc_name, relation)]
    return job


def hourly_buckets():
    with connection.cursor() as cursor:
        cursor.execute("SELECT bucket FROM telemetry_hourly")
        return {bucket for (bucket,) in cursor.fetchall()}


def assert_run_by_the_platform(job, since):
    assert (job["last_run_status"], job["last_run_by"], job["failing"]) == ("Success", "platform", False)
    assert job["last_run_at"] >= since


def test_the_refresh_runs_the_rollups_refresh_policies(two_wells, scheduler_paused):
    started = timezone.now()
    refresh_rollups()
    for relation in ("telemetry_hourly", "telemetry_daily"):
        assert_run_by_the_platform(rollup_job(timescaledb.REFRESH_POLICY, relation), started)


def test_expiry_runs_the_hourly_rollups_retention_policy(two_wells, scheduler_paused):
    now = timezone.now()
    old, recent = now - datetime.timedelta(days=45), now - datetime.timedelta(hours=2)
    old_hour, recent_hour = (moment.replace(minute=0, second=0, microsecond=0) for moment in (old, recent))
    well_id = two_wells[0].well_id
    ingest_readings(
        [
            ReadingIn(well_id=well_id, timestamp=moment, flow_rate=900.0, pip=700.0, motor_current=35.0)
            for moment in (old, recent)
        ]
    )
    refresh_rollups()
    assert {old_hour, recent_hour} <= hourly_buckets()

    retention = rollup_job(timescaledb.RETENTION_POLICY, "telemetry_hourly")
    assert retention["older_than"] == "730 days"  # ROLLUP_HOURLY_RETENTION_DAYS
    set_drop_after = (
        "SELECT alter_job(job_id, config => config || %s::jsonb) FROM timescaledb_information.jobs WHERE job_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(set_drop_after, [json.dumps({"drop_after": "30 days"}), retention["job_id"]])
    try:
        started = timezone.now()
        expire_rollups()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(set_drop_after, [json.dumps({"drop_after": retention["older_than"]}), retention["job_id"]])

    buckets = hourly_buckets()
    assert old_hour not in buckets
    assert recent_hour in buckets
    assert_run_by_the_platform(rollup_job(timescaledb.RETENTION_POLICY, "telemetry_hourly"), started)
