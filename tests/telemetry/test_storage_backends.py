"""The two storage backends: daily partitions on plain PostgreSQL, a hypertable on TimescaleDB."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection

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
    ages = {job["proc_name"]: job["older_than"] for job in status["jobs"]}
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
