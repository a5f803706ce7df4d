"""Readings generated for the rollup tests, and what their aggregates must be, computed in Python."""

import datetime
import math
import random
import statistics
import zoneinfo
from collections import defaultdict

import pytest
from django.conf import settings
from django.db import connection

from analytics.rollups.definitions import RUNNING_CURRENT_A
from analytics.rollups.postgres import DAILY_TABLE, HOURLY_TABLE
from telemetry.ingest import ReadingIn, ingest_readings
from telemetry.storage import backend
from tests.factories import WellFactory

OPTIONAL = ("casing_pressure", "tubing_pressure", "intake_pressure", "discharge_pressure", "motor_temp", "vibration")


def generate_readings(rng, well_ids, start, end, count):
    """``count`` readings at random seconds in [start, end) for random wells, optional sensors sometimes missing."""
    span = int((end - start).total_seconds())
    readings = []
    for _ in range(count):
        reading = {
            "well_id": rng.choice(well_ids),
            "timestamp": start + datetime.timedelta(seconds=rng.randrange(span)),
            "flow_rate": rng.uniform(0, 2500),
            "pip": rng.uniform(200, 2500),
            # Some readings with the motor stopped, for the uptime fraction.
            "motor_current": rng.choice([0.0, 2.0]) if rng.random() < 0.1 else rng.uniform(20, 90),
        }
        for name in OPTIONAL:
            if rng.random() < 0.8:
                reading[name] = rng.uniform(0, 200)
        readings.append(reading)
    return readings


class Ledger:
    """What the platform has stored: the first reading per (well, time), as ingestion keeps it."""

    def __init__(self):
        self.stored = {}

    def ingest(self, readings, chunk=250):
        for offset in range(0, len(readings), chunk):
            batch = readings[offset : offset + chunk]
            ingest_readings([ReadingIn(**reading) for reading in batch])
            for reading in batch:
                self.stored.setdefault((reading["well_id"], reading["timestamp"]), reading)

    def _groups(self, bucket_of):
        groups = defaultdict(list)
        for (well_id, moment), reading in self.stored.items():
            groups[(well_id, bucket_of(moment))].append(reading)
        return groups

    def hourly(self):
        """{(well_id, hour start UTC): {column: value}} — the definition of telemetry_hourly."""

        def hour(moment):
            return moment.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)

        expected = {}
        for key, readings in self._groups(hour).items():
            row = {
                "avg_flow_rate": _mean(readings, "flow_rate"),
                "max_flow_rate": max(r["flow_rate"] for r in readings),
                "min_flow_rate": min(r["flow_rate"] for r in readings),
                "avg_motor_current": _mean(readings, "motor_current"),
                "max_motor_temp": _max(readings, "motor_temp"),
                "reading_count": len(readings),
                "first_reading": min(r["timestamp"] for r in readings),
                "last_reading": max(r["timestamp"] for r in readings),
            }
            for name in ("pip", *OPTIONAL):
                row[f"avg_{name}"] = _mean(readings, name)
            expected[key] = row
        return expected

    def daily(self):
        """{(well_id, local midnight): {column: value}} — days of ANALYTICS_TIMEZONE."""
        zone = zoneinfo.ZoneInfo(settings.ANALYTICS_TIMEZONE)

        def local_day(moment):
            return moment.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)

        expected = {}
        for key, readings in self._groups(local_day).items():
            flows = [r["flow_rate"] for r in readings]
            expected[key] = {
                "avg_flow_rate": statistics.fmean(flows),
                "stddev_flow_rate": statistics.stdev(flows) if len(flows) > 1 else None,
                "avg_pip": _mean(readings, "pip"),
                "avg_motor_current": _mean(readings, "motor_current"),
                "max_motor_current": _max(readings, "motor_current"),
                "avg_motor_temp": _mean(readings, "motor_temp"),
                "max_motor_temp": _max(readings, "motor_temp"),
                "avg_vibration": _mean(readings, "vibration"),
                "max_vibration": _max(readings, "vibration"),
                "reading_count": len(readings),
                "uptime_fraction": sum(r["motor_current"] >= RUNNING_CURRENT_A for r in readings) / len(readings),
            }
        return expected


def _mean(readings, name):
    values = [r[name] for r in readings if r.get(name) is not None]
    return statistics.fmean(values) if values else None


def _max(readings, name):
    values = [r[name] for r in readings if r.get(name) is not None]
    return max(values) if values else None


def assert_rows_match(actual, expected, label):
    """Same keys, and every value equal within float tolerance."""
    assert set(actual) == set(expected), f"{label}: buckets differ"
    for key, row in expected.items():
        for column, value in row.items():
            got = actual[key][column]
            if value is None or got is None:
                assert got == value, f"{label} {key} {column}: {got} != {value}"
            elif isinstance(value, float):
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), f"{label} {key} {column}"
            else:
                assert got == value, f"{label} {key} {column}: {got} != {value}"


@pytest.fixture
def rng(request):
    return random.Random(request.node.name)


@pytest.fixture
def empty_rollups(transactional_db):
    """Committed rollup rows outlive Django's flush (they are not models); clear them around the test."""

    def clear():
        tables = (HOURLY_TABLE, DAILY_TABLE) if backend() == "postgres" else ("telemetry_hourly", "telemetry_daily")
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)}")

    clear()
    yield
    clear()


@pytest.fixture
def two_wells(empty_rollups):
    return [
        WellFactory(well_id="RYD-101", install_date=datetime.date(2020, 1, 1)),
        WellFactory(well_id="RYD-102", install_date=datetime.date(2020, 1, 1)),
    ]


@pytest.fixture
def ledger():
    return Ledger()
