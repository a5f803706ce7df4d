"""What ingest leaves in the database: readings once each, the change log, and the deletion cascade."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telemetry.ingest import ReadingIn, ingest_readings, parse_batch
from telemetry.models import Reading, ReadingChange
from tests.factories import WellFactory
from tests.telemetry.conftest import batch_body, reading, stored_readings

pytestmark = pytest.mark.django_db


def ingest(readings):
    return ingest_readings(parse_batch(batch_body(readings)))


def test_it_counts_inserted_and_duplicate_readings(well, second_well, now):
    first = [reading(time=now - datetime.timedelta(minutes=m)) for m in range(1, 4)]
    result = ingest(first + [reading("WELL-002", now - datetime.timedelta(minutes=1))])
    assert (result.received, result.inserted, result.duplicates) == (4, 4, 0)

    again = ingest(first[:2] + [reading(time=now - datetime.timedelta(minutes=9))])
    assert (again.received, again.inserted, again.duplicates) == (3, 1, 2)
    assert Reading.objects.count() == 5


def test_a_duplicate_never_changes_the_stored_row(well, now):
    moment = now - datetime.timedelta(minutes=3)
    ingest([reading(time=moment, flow_rate=900.0, vibration=1.5)])
    ingest([reading(time=moment, flow_rate=1.0, vibration=None)])
    stored = Reading.objects.get()
    assert (stored.flow_rate, stored.vibration) == (900.0, 1.5)


def test_duplicates_within_one_batch_count_as_duplicates_and_the_first_wins(well, now):
    moment = now - datetime.timedelta(minutes=3)
    result = ingest([reading(time=moment, flow_rate=1.0), reading(time=moment, flow_rate=2.0)])
    assert (result.inserted, result.duplicates) == (1, 1)
    assert Reading.objects.get().flow_rate == 1.0


def test_a_single_reading_takes_the_short_path_with_the_same_outcome(well, now):
    one = ReadingIn(well_id="WELL-001", timestamp=now, flow_rate=5.0, pip=6.0, motor_current=7.0)
    assert ingest_readings([one]).inserted == 1
    assert ingest_readings([one]).duplicates == 1
    assert ReadingChange.objects.count() == 1


def test_it_logs_each_changed_well_hour_once_per_ingest(well, second_well):
    hour = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=3)
    ingest(
        [
            reading(time=hour + datetime.timedelta(minutes=5)),
            reading(time=hour + datetime.timedelta(minutes=55)),
            reading(time=hour + datetime.timedelta(minutes=65)),
            reading("WELL-002", hour + datetime.timedelta(minutes=5)),
        ]
    )
    logged = sorted(ReadingChange.objects.values_list("well_id", "hour"))
    assert logged == sorted([(well.pk, hour), (well.pk, hour + datetime.timedelta(hours=1)), (second_well.pk, hour)])


def test_it_logs_nothing_for_a_batch_of_duplicates(well, now):
    readings = [reading(time=now - datetime.timedelta(minutes=m)) for m in range(1, 3)]
    ingest(readings)
    ReadingChange.objects.all().delete()
    assert ingest(readings).inserted == 0
    assert ReadingChange.objects.count() == 0


def test_a_backfill_of_last_year_is_stored(well, now):
    days_ago = [300, 200, 100, 2]
    result = ingest([reading(time=now - datetime.timedelta(days=d)) for d in days_ago])
    assert result.inserted == 4
    assert Reading.objects.filter(time__lt=now - datetime.timedelta(days=250)).count() == 1


def test_deleting_a_well_deletes_its_readings_without_loading_them(well, second_well, now):
    ingest([reading(time=now - datetime.timedelta(minutes=m)) for m in range(1, 6)])
    ingest([reading("WELL-002", now)])
    with CaptureQueriesContext(connection) as queries:
        well.delete()
    assert not any("telemetry_reading" in query["sql"] and "SELECT" in query["sql"] for query in queries)
    assert list(stored_readings()) == [("WELL-002", now)]
    assert not ReadingChange.objects.filter(well_id=well.pk).exists()


def test_the_orm_reads_readings_newest_first_by_keyset(db, now):
    subject = WellFactory(well_id="KEY-001")
    ingest([reading("KEY-001", now - datetime.timedelta(minutes=m), flow_rate=float(m)) for m in range(10)])
    page = list(Reading.objects.newest_before(subject, now - datetime.timedelta(minutes=3), limit=2))
    assert [row["flow_rate"] for row in page] == [4.0, 5.0]


def test_a_batch_stores_every_value_as_sent(well, now):
    full = reading(
        time=now - datetime.timedelta(microseconds=1_500_001),
        flow_rate=1012.125,
        pip=-14.5,
        casing_pressure=155.2,
        tubing_pressure=240.8,
        intake_pressure=815.1,
        discharge_pressure=2950.0,
        motor_current=41.7,
        motor_temp=-3.25,
        vibration=0.0,
    )
    sparse = reading(time=now - datetime.timedelta(minutes=1), flow_rate=0, pip=20_000, motor_current=2_000)
    ingest([full, sparse])
    stored = {row.pop("time"): row for row in Reading.objects.values("time", *Reading.METRIC_FIELDS)}
    assert stored[now - datetime.timedelta(microseconds=1_500_001)] == {
        name: full[name] for name in Reading.METRIC_FIELDS
    }
    assert stored[now - datetime.timedelta(minutes=1)] == {name: sparse.get(name) for name in Reading.METRIC_FIELDS}
