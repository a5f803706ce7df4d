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
