"""Telemetry fixtures: readings as devices send them, and skipping tests that need plain PostgreSQL."""

import datetime
import json

import pytest

from telemetry import storage
from tests.conftest import readings_backend
from tests.factories import WellFactory

NEEDS_PARTITIONS = "checks plain-PostgreSQL partitions; this test database was built on TimescaleDB"


@pytest.fixture
def partitioned_storage(request):
    """Skips the test unless readings live in plain-PostgreSQL daily partitions."""
    if readings_backend(request) != storage.POSTGRES:
        pytest.skip(NEEDS_PARTITIONS)


@pytest.fixture
def now():
    """The current time, to the second, UTC."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@pytest.fixture
def second_well(db):
    return WellFactory(well_id="WELL-002", name="Ghawar North 2")


def reading(well_id="WELL-001", time=None, **fields):
    """A reading as a device sends it (a dict ready for JSON), one hour ago unless ``time`` is given."""
    if time is None:
        time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    if isinstance(time, datetime.datetime):
        time = time.isoformat().replace("+00:00", "Z")
    values = {"well_id": well_id, "timestamp": time, "flow_rate": 1000.0, "pip": 800.0, "motor_current": 40.0}
    values.update(fields)
    return {name: value for name, value in values.items() if value is not ...}


def batch_body(readings):
    return json.dumps({"readings": readings}).encode()


def stored_readings():
    """Every stored reading as {(well public id, UTC time): flow_rate}."""
    from telemetry.models import Reading

    return {
        (well_id, time): flow
        for well_id, time, flow in Reading.objects.values_list("well__well_id", "time", "flow_rate")
    }


def expected_latest():
    """{well pk: its LatestReading as computed in Python from the stored readings}: the newest reading, and
    the count, sums and maximum of the readings in that reading's UTC hour."""
    from telemetry.models import Reading

    metrics = Reading.METRIC_FIELDS
    hour_length = datetime.timedelta(hours=1)
    by_well = {}
    for row in Reading.objects.values("well_id", "time", *metrics):
        by_well.setdefault(row["well_id"], []).append(row)
    expected = {}
    for well_pk, rows in by_well.items():
        newest = max(rows, key=lambda row: row["time"])
        hour = newest["time"].replace(minute=0, second=0, microsecond=0)
        in_hour = [row for row in rows if hour <= row["time"] < hour + hour_length]
        temps = [row["motor_temp"] for row in in_hour if row["motor_temp"] is not None]
        vibrations = [row["vibration"] for row in in_hour if row["vibration"] is not None]
        expected[well_pk] = {
            **{name: newest[name] for name in ("time", *metrics)},
            "hour": hour,
            "hour_reading_count": len(in_hour),
            "hour_flow_rate_sum": pytest.approx(sum(row["flow_rate"] for row in in_hour)),
            "hour_motor_current_sum": pytest.approx(sum(row["motor_current"] for row in in_hour)),
            "hour_motor_temp_sum": pytest.approx(sum(temps)),
            "hour_motor_temp_count": len(temps),
            "hour_motor_temp_max": max(temps, default=None),
            "hour_vibration_sum": pytest.approx(sum(vibrations)),
            "hour_vibration_count": len(vibrations),
        }
    return expected


def stored_latest():
    """{well pk: every column of its LatestReading row}."""
    from telemetry.models import LatestReading

    fields = [field.name for field in LatestReading._meta.concrete_fields if field.name != "well"]
    return {row.pop("well_id"): row for row in LatestReading.objects.values("well_id", *fields)}
