"""Each well's latest state (``LatestReading``), kept by ingestion, against the readings it summarizes.

The oracle (``expected_latest`` in conftest) recomputes it in Python from the stored readings.
"""

import datetime
import importlib
import random
import threading

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.ingest import ReadingIn, ingest_readings, parse_batch
from telemetry.models import LatestReading
from telemetry.simulator.backfill import backfill
from tests.factories import WellFactory
from tests.telemetry.conftest import batch_body, expected_latest, reading, stored_latest

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def ingest(readings):
    return ingest_readings(parse_batch(batch_body(readings)))


def at(hour, minute):
    return hour + datetime.timedelta(minutes=minute)


@pytest.fixture
def hour():
    """The start of the UTC hour three hours ago: room for readings before and after it."""
    now = datetime.datetime.now(datetime.UTC)
    return now.replace(minute=0, second=0, microsecond=0) - 3 * HOUR


def test_it_holds_the_newest_reading_and_its_hours_totals(well, hour):
    ingest([reading(time=at(hour, 5), flow_rate=900.0, motor_temp=80.0), reading(time=at(hour, 20), flow_rate=1100.0)])
    latest = LatestReading.objects.get(well=well)
    assert (latest.time, latest.flow_rate, latest.motor_temp) == (at(hour, 20), 1100.0, None)
    assert (latest.hour, latest.hour_reading_count, latest.hour_flow_rate_sum) == (hour, 2, 2000.0)
    assert (latest.hour_motor_temp_count, latest.hour_motor_temp_max) == (1, 80.0)
    assert stored_latest() == expected_latest()


def test_an_older_reading_never_overwrites_a_newer_one(well, hour):
    ingest([reading(time=at(hour, 30), flow_rate=1000.0)])
    ingest([reading(time=at(hour, 10), flow_rate=5.0), reading(time=at(hour, -50), flow_rate=7.0)])
    latest = LatestReading.objects.get(well=well)
    assert (latest.time, latest.flow_rate) == (at(hour, 30), 1000.0)
    # The late reading of the same hour joins the hour's totals; the one of the hour before does not.
    assert (latest.hour_reading_count, latest.hour_flow_rate_sum) == (2, 1005.0)
    assert stored_latest() == expected_latest()


def test_a_newer_hour_starts_the_totals_afresh(well, hour):
    ingest([reading(time=at(hour, m), flow_rate=100.0) for m in (0, 30, 59)])
    ingest([reading(time=at(hour, 61), flow_rate=300.0), reading(time=at(hour, 45), flow_rate=1.0)])
    latest = LatestReading.objects.get(well=well)
    assert (latest.hour, latest.hour_reading_count, latest.hour_flow_rate_sum) == (hour + HOUR, 1, 300.0)
    assert stored_latest() == expected_latest()


def test_a_duplicate_changes_nothing(well, hour):
    ingest([reading(time=at(hour, 30), flow_rate=1000.0, vibration=2.0)])
    result = ingest([reading(time=at(hour, 30), flow_rate=1.0, vibration=9.0), reading(time=at(hour, 30))])
    assert result.inserted == 0
    latest = LatestReading.objects.get(well=well)
    assert (latest.flow_rate, latest.vibration, latest.hour_reading_count) == (1000.0, 2.0, 1)
    assert (latest.hour_vibration_sum, latest.hour_vibration_count) == (2.0, 1)


def test_a_single_reading_takes_the_short_path_with_the_same_outcome(well, hour):
    one = ReadingIn(well_id="WELL-001", timestamp=at(hour, 7), flow_rate=5.0, pip=6.0, motor_current=7.0)
    ingest_readings([one])
    ingest_readings([one])
    assert stored_latest() == expected_latest()
    assert LatestReading.objects.get(well=well).hour_reading_count == 1


def test_a_reading_acknowledged_over_http_is_reflected(operator_client, well, second_well, hour):
    one = reading(time=at(hour, 3), flow_rate=321.0)
    response = operator_client.post("/api/v1/telemetry/ingest", one, format="json")
    assert response.status_code == 201
    assert LatestReading.objects.get(well=well).flow_rate == 321.0
    batch = [reading("WELL-002", at(hour, 4), flow_rate=654.0), reading(time=at(hour, 9), flow_rate=987.0)]
    response = operator_client.post("/api/v1/telemetry/batch", {"readings": batch}, format="json")
    assert response.status_code == 201
    assert {pk: row["flow_rate"] for pk, row in stored_latest().items()} == {well.pk: 987.0, second_well.pk: 654.0}


def test_a_rejected_batch_leaves_the_latest_state_unchanged(operator_client, well, hour):
    ingest([reading(time=at(hour, 1), flow_rate=10.0)])
    before = stored_latest()
    batch = [reading(time=at(hour, 50), flow_rate=20.0), reading(time=at(hour, 51), flow_rate=-1.0)]
    response = operator_client.post("/api/v1/telemetry/batch", {"readings": batch}, format="json")
    assert response.status_code == 400
    assert stored_latest() == before


def test_a_simulator_backfill_keeps_it(well, second_well, hour):
    backfill([well, second_well], hour - 5 * HOUR, at(hour, 90), interval=600, seed=3, chunk_size=7)
    backfill([well], hour - 9 * HOUR, hour - 4 * HOUR, interval=300, seed=4, chunk_size=7)
    assert set(stored_latest()) == {well.pk, second_well.pk}
    assert stored_latest() == expected_latest()


def test_the_migration_fills_it_from_the_readings_already_stored(well, second_well, hour):
    ingest([reading(time=at(hour, m), motor_temp=70.0 + m, vibration=m / 10) for m in range(0, 100, 7)])
    ingest([reading("WELL-002", at(hour, m)) for m in (3, 4)])
    WellFactory(well_id="WELL-003")  # never reported: no row
    expected = expected_latest()
    LatestReading.objects.all().delete()
    migration = importlib.import_module("telemetry.migrations.0002_create_latest_reading")
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL_FROM_READINGS)
    assert stored_latest() == expected


def test_deleting_a_well_deletes_its_latest_state(well, second_well, hour):
    ingest([reading(time=at(hour, 1)), reading("WELL-002", at(hour, 1))])
    second_well.delete()
    assert list(LatestReading.objects.values_list("well_id", flat=True)) == [well.pk]


WELL_IDS = ("WELL-001", "WELL-002")
BASE = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=6)
generated_reading = st.fixed_dictionaries(
    {
        "well": st.sampled_from(WELL_IDS),
        "minute": st.integers(min_value=0, max_value=200),  # across four UTC hours
        "flow_rate": st.floats(min_value=0, max_value=5_000, allow_nan=False),
        "motor_temp": st.none() | st.floats(min_value=20, max_value=150, allow_nan=False),
        "vibration": st.none() | st.floats(min_value=0, max_value=20, allow_nan=False),
    }
)


@pytest.mark.usefixtures("well", "second_well")
def test_it_matches_the_readings_after_any_sequence_of_batches():
    """Batches out of order, repeating earlier readings and each other, on two wells, one after another."""

    @settings(max_examples=60, deadline=None)
    @given(st.lists(generated_reading, min_size=1, max_size=30))
    def check(generated):
        ingest(
            [
                reading(
                    g["well"],
                    BASE + datetime.timedelta(minutes=g["minute"]),
                    flow_rate=g["flow_rate"],
                    motor_temp=g["motor_temp"],
                    vibration=g["vibration"],
                )
                for g in generated
            ]
        )
        assert stored_latest() == expected_latest()

    check()


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_the_same_wells_add_up(well, second_well, hour):
    """Four writers at once, each committing batches of both wells in shuffled order across two hours."""
    rng = random.Random(7)
    minutes = list(range(0, 120))
    batches = []
    for writer in range(4):
        mine = minutes[writer::4]
        rng.shuffle(mine)
        batches.append([mine[i : i + 6] for i in range(0, len(mine), 6)])
    errors = []

    def write(own_batches):
        try:
            for batch in own_batches:
                ingest([reading(w, at(hour, m), flow_rate=float(m)) for m in batch for w in WELL_IDS])
        except Exception as error:  # reported below; a thread's exception would be lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(own,)) for own in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    latest = stored_latest()
    assert latest == expected_latest()
    assert latest[well.pk]["hour_reading_count"] == 60 and latest[well.pk]["time"] == at(hour, 119)
