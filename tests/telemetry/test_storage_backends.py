"""The two storage backends: daily partitions on plain PostgreSQL, a hypertable on TimescaleDB."""

import datetime
import io
import json
import time

import pytest
from django.core.management import call_command
from django.db import connection

from operations.health import DEGRADED, check_timeseries
from telemetry import storage
from telemetry.ingest import ingest_readings, parse_batch
from telemetry.models import Reading
from telemetry.storage import postgres
from telemetry.tasks import maintain_storage
from tests.telemetry.conftest import batch_body, reading

pytestmark = pytest.mark.django_db


def partition_days():
    with connection.cursor() as cursor:
        return postgres._partition_days(cursor)


def status_text():
    output = io.StringIO()
    call_command("timeseries_status", stdout=output)
    return output.getvalue()


def test_the_readings_table_has_one_backend(db):
    assert storage.backend() in (storage.POSTGRES, storage.TIMESCALEDB)


# --- Plain PostgreSQL --------------------------------------------------------------------------


def test_migrate_creates_partitions_for_the_days_ahead(partitioned_storage, now):
    today = now.date()
    assert {today + datetime.timedelta(days=d) for d in range(postgres.PARTITIONS_AHEAD_DAYS + 1)} <= partition_days()


def test_ingest_creates_the_partition_of_an_old_day_on_demand(partitioned_storage, well, now):
    old = now - datetime.timedelta(days=320)
    assert old.date() not in partition_days()
    ingest_readings(parse_batch(batch_body([reading(time=old), reading(time=old + datetime.timedelta(days=1))])))
    assert {old.date(), old.date() + datetime.timedelta(days=1)} <= partition_days()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {postgres.partition_name(old.date())}")
        assert cursor.fetchone() == (1,)


def test_maintenance_drops_partitions_past_retention_and_keeps_the_rest(partitioned_storage, well, now, settings):
    ingest_readings(parse_batch(batch_body([reading(time=now - datetime.timedelta(days=d)) for d in (40, 20, 1)])))
    settings.TELEMETRY_RETENTION_DAYS = 30
    summary = maintain_storage()
    assert summary["backend"] == "postgres"
    assert (now - datetime.timedelta(days=40)).date().isoformat() in summary["dropped"]
    assert (now - datetime.timedelta(days=40)).date() not in partition_days()
    assert Reading.objects.count() == 2
    # A later backfill into a day inside the window still finds (or recreates) its partition.
    ingest_readings(parse_batch(batch_body([reading(time=now - datetime.timedelta(days=29))])))
    assert Reading.objects.count() == 3


def test_maintenance_creates_the_partitions_ahead(partitioned_storage, now):
    later = now + datetime.timedelta(days=30)
    summary = storage.maintain_storage(now=later)
    assert (later + datetime.timedelta(days=postgres.PARTITIONS_AHEAD_DAYS)).date().isoformat() in summary["created"]
    assert storage.maintain_storage(now=later)["created"] == []


def test_status_lists_partitions_and_retention(partitioned_storage):
    text = status_text()
    assert "Backend: postgres" in text
    assert "Partitions:" in text and " daily, " in text
    assert "Compression: none" in text
    assert "Retention: 365 days" in text


# --- TimescaleDB -------------------------------------------------------------------------------


def policy_job(proc_name, relation="telemetry_reading"):
    """The status of one policy job (``storage_status()["jobs"]``)."""
    (job,) = [
        job for job in storage.storage_status()["jobs"] if (job["proc_name"], job["relation"]) == (proc_name, relation)
    ]
    return job


def job_line(job_id):
    """The line ``timeseries_status`` prints for one policy job."""
    (line,) = [line for line in status_text().splitlines() if line.startswith(f"  {job_id} ")]
    return line


def run_policy_job(proc_name):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_name = 'telemetry_reading' "
            "AND proc_name = %s",
            [proc_name],
        )
        (job_id,) = cursor.fetchone()
        cursor.execute("CALL run_job(%s)", [job_id])


def chunk_states():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT range_start, is_compressed FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'telemetry_reading' ORDER BY range_start"
        )
        return cursor.fetchall()


@pytest.mark.timescaledb
def test_readings_are_a_hypertable_with_compression_and_retention_policies(db):
    status = storage.storage_status()
    assert status["chunk_interval"] == datetime.timedelta(days=1)
    assert (status["segmentby"], status["orderby"]) == ("well_id", '"time" DESC')
    ages = {job["proc_name"]: job["older_than"] for job in status["jobs"] if job["relation"] == "telemetry_reading"}
    assert ages == {"policy_compression": "7 days", "policy_retention": "365 days"}


@pytest.mark.timescaledb
@pytest.mark.django_db(transaction=True)
def test_the_compression_policy_compresses_old_chunks_and_duplicates_are_still_refused(well, now):
    old = now - datetime.timedelta(days=10)
    ingest_readings(parse_batch(batch_body([reading(time=old), reading(time=now - datetime.timedelta(hours=1))])))
    run_policy_job("policy_compression")
    assert [compressed for _start, compressed in chunk_states()] == [True, False]
    again = ingest_readings(parse_batch(batch_body([reading(time=old, flow_rate=1.0)])))
    assert again.duplicates == 1
    assert Reading.objects.get(time=old).flow_rate == 1000.0


@pytest.mark.timescaledb
@pytest.mark.django_db(transaction=True)
def test_the_retention_policy_drops_chunks_past_the_window(well, now, settings):
    ingest_readings(parse_batch(batch_body([reading(time=now - datetime.timedelta(days=d)) for d in (40, 1)])))
    settings.TELEMETRY_RETENTION_DAYS = 30
    try:
        # The hourly beat task re-applies the window and runs the jobs itself (the 2.28 scheduler
        # cannot on PostgreSQL 15.20+), so the old chunk is gone without anyone calling run_job.
        assert maintain_storage()["policies_updated"] == ["policy_retention"]
        assert Reading.objects.count() == 1
        assert len(chunk_states()) == 1
    finally:  # the policy lives in the database, which this test commits to
        settings.TELEMETRY_RETENTION_DAYS = 365
        maintain_storage()


@pytest.mark.timescaledb
def test_status_lists_chunks_compression_and_retention(well, now):
    ingest_readings(parse_batch(batch_body([reading(time=now - datetime.timedelta(hours=1))])))
    text = status_text()
    assert "Backend: timescaledb 2." in text
    assert "hypertable, chunk interval 1 day" in text
    assert "Chunks: 1, " in text and "0 compressed" in text
    assert "Compression: segment by well_id" in text and "compress chunks older than 7 days" in text
    assert "Retention: drop chunks older than 365 days" in text


@pytest.mark.timescaledb
@pytest.mark.django_db(transaction=True)
def test_maintenance_runs_the_readings_policies_and_the_job_history_retention_and_status_says_so(
    well, now, scheduler_paused
):
    ingest_readings(parse_batch(batch_body([reading(time=now - datetime.timedelta(days=10)), reading(time=now)])))
    compression, retention = policy_job("policy_compression"), policy_job("policy_retention")
    history = policy_job("policy_job_stat_history_retention", relation=None)
    summary = maintain_storage()
    assert set(summary["jobs_run"]) == {compression["job_id"], retention["job_id"], history["job_id"]}
    assert summary["jobs_failed"] == {}
    assert [compressed for _start, compressed in chunk_states()] == [True, False]
    for job in (compression, retention, history):
        after = policy_job(job["proc_name"], job["relation"])
        assert (after["last_run_status"], after["last_run_by"], after["failing"]) == ("Success", "platform", False)
        assert now - datetime.timedelta(minutes=5) < after["last_run_at"] <= after["last_successful_finish"]
        # Whatever TimescaleDB's scheduler made of it (on 2.28 + PostgreSQL 15.20+ it fails every job).
        assert f"last run Success at {after['last_run_at']:%Y-%m-%d %H:%M:%S} UTC by the platform" in job_line(
            job["job_id"]
        )
    assert "policy_compression on telemetry_reading older than 7 days, every 12:00:00" in job_line(
        compression["job_id"]
    )


@pytest.mark.timescaledb
@pytest.mark.django_db(transaction=True)
def test_a_policy_job_that_fails_when_the_platform_runs_it_is_reported_with_its_error(well, now, scheduler_paused):
    compression = policy_job("policy_compression")
    # A job pointed at a hypertable that does not exist fails when run (alter_job would refuse the config,
    # so it is written to TimescaleDB's catalog directly).
    job_config = "UPDATE _timescaledb_catalog.bgw_job SET config = config || %s::jsonb WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT config->>'hypertable_id' FROM _timescaledb_catalog.bgw_job WHERE id = %s", [compression["job_id"]]
        )
        (hypertable_id,) = cursor.fetchone()
        cursor.execute(job_config, [json.dumps({"hypertable_id": 999_999}), compression["job_id"]])
    try:
        summary = maintain_storage()
        assert list(summary["jobs_failed"]) == [compression["job_id"]]
        assert set(summary["jobs_run"]) > {compression["job_id"]}  # the other jobs still ran
        failed = policy_job("policy_compression")
        assert (failed["last_run_status"], failed["last_run_by"], failed["failing"]) == ("Failed", "platform", True)
        assert failed["last_error"] == summary["jobs_failed"][compression["job_id"]]
        assert (
            f"last run Failed at {failed['last_run_at']:%Y-%m-%d %H:%M:%S} UTC by the platform: {failed['last_error']}"
            in job_line(compression["job_id"])
        )
        assert policy_job("policy_retention")["failing"] is False
        health, detail = check_timeseries(now, timeout=5)
        assert health == DEGRADED
        assert f"policy_compression job {compression['job_id']} on telemetry_reading failed its last run" in detail
    finally:
        with connection.cursor() as cursor:
            cursor.execute(job_config, [json.dumps({"hypertable_id": int(hypertable_id)}), compression["job_id"]])
    maintain_storage()
    assert policy_job("policy_compression")["failing"] is False


@pytest.mark.timescaledb
@pytest.mark.django_db(transaction=True)
def test_status_shows_the_schedulers_run_when_it_is_the_newer_and_the_platforms_beside_it(well):
    maintain_storage()
    retention = policy_job("policy_retention")
    with connection.cursor() as cursor:
        cursor.execute("SELECT alter_job(%s, next_start => now())", [retention["job_id"]])
    give_up = time.monotonic() + 60
    while (job := policy_job("policy_retention"))["last_run_by"] != "scheduler":
        assert time.monotonic() < give_up, "TimescaleDB's scheduler did not start the job within 60 s"
        time.sleep(0.1)
    # Whether the scheduler's run failed (2.28 on PostgreSQL 15.20+) or not, the platform's own run
    # did the work and the job is not failing.
    assert job["failing"] is False
    line = job_line(job["job_id"])
    assert f"last run {job['last_run_status']} at {job['last_run_at']:%Y-%m-%d %H:%M:%S} UTC by the scheduler" in line
    assert f"; the platform's last run: Success at {job['platform_run_at']:%Y-%m-%d %H:%M:%S} UTC" in line
