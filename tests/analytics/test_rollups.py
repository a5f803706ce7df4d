"""Every rollup equals the same aggregate of the raw readings: before a refresh (real time), after
one, and after late and out-of-order readings — on whichever backend the test server has."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from analytics.rollups import refresh_lag, refresh_rollups
from analytics.rollups.definitions import DAILY_COLUMNS, HOURLY_COLUMNS
from analytics.rollups.postgres import DAILY_TABLE, HOURLY_TABLE
from telemetry.storage import backend
from tests.analytics.conftest import assert_rows_match, generate_readings

pytestmark = pytest.mark.django_db(transaction=True)


def read_rollup(relation, columns):
    """{(public well id, bucket): {column: value}} for every row of ``relation``."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT w.well_id, r.bucket, {', '.join('r.' + c for c in columns)} "
            f"FROM {relation} r JOIN wells_well w ON w.id = r.well_id"
        )
        return {(row[0], row[1]): dict(zip(columns, row[2:], strict=True)) for row in cursor.fetchall()}


def current_hour(rows, now):
    hour = now.replace(minute=0, second=0, microsecond=0)
    return {key: value for key, value in rows.items() if key[1] >= hour}


def assert_rollups_match(ledger, label):
    assert_rows_match(read_rollup("telemetry_hourly", HOURLY_COLUMNS), ledger.hourly(), f"hourly {label}")
    assert_rows_match(read_rollup("telemetry_daily", DAILY_COLUMNS), ledger.daily(), f"daily {label}")


def test_rollups_equal_raw_aggregates_through_late_and_out_of_order_readings(two_wells, ledger, rng):
    now = timezone.now()
    ids = [well.well_id for well in two_wells]
    ledger.ingest(generate_readings(rng, ids, now - datetime.timedelta(days=3), now, 1500))
    if backend() == "postgres":
        # Nothing materialized yet: the views answer every bucket from raw readings.
        assert_rollups_match(ledger, "before any refresh")

    refresh_rollups()
    assert_rollups_match(ledger, "after the first refresh")

    # Late readings into hours already materialized, shuffled, plus some in the current hour.
    late = generate_readings(rng, ids, now - datetime.timedelta(days=3), now - datetime.timedelta(days=1), 400)
    late += generate_readings(rng, ids, now.replace(minute=0, second=0, microsecond=0), now, 40)
    rng.shuffle(late)
    ledger.ingest(late)
    hourly = read_rollup("telemetry_hourly", HOURLY_COLUMNS)
    # The current hour is real time on both backends; on PostgreSQL so is every late bucket.
    assert_rows_match(current_hour(hourly, now), current_hour(ledger.hourly(), now), "current hour before refresh")
    if backend() == "postgres":
        assert_rollups_match(ledger, "late readings before refresh")

    refresh_rollups()
    assert_rollups_match(ledger, "after refreshing late readings")


@pytest.mark.skipif("backend() != 'postgres'", reason="the rollup tables exist on the PostgreSQL backend only")
def test_refresh_materializes_exactly_the_raw_aggregates(two_wells, ledger, rng):
    now = timezone.now()
    ledger.ingest(generate_readings(rng, [w.well_id for w in two_wells], now - datetime.timedelta(days=2), now, 600))
    outcome = refresh_rollups()
    assert outcome["hours"] > 0
    assert_rows_match(read_rollup(HOURLY_TABLE, HOURLY_COLUMNS), ledger.hourly(), "hourly table")
    assert_rows_match(read_rollup(DAILY_TABLE, DAILY_COLUMNS), ledger.daily(), "daily table")
    # Nothing pending: a second refresh recomputes nothing.
    assert refresh_rollups()["hours"] == 0


def test_a_ranged_refresh_rebuilds_buckets_whatever_the_change_log_says(two_wells, ledger, rng):
    now = timezone.now()
    ledger.ingest(generate_readings(rng, [w.well_id for w in two_wells], now - datetime.timedelta(days=1), now, 300))
    refresh_rollups(now - datetime.timedelta(days=2), now + datetime.timedelta(hours=1))
    assert_rollups_match(ledger, "after a ranged refresh")


def test_daily_buckets_are_local_days_of_the_analytics_timezone(two_wells, ledger, settings):
    well = two_wells[0].well_id
    day = timezone.now().astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day -= datetime.timedelta(days=2)
    # 20:30 and 21:30 UTC of one UTC day: two local days in Riyadh (midnight there is 21:00 UTC).
    moments = [day + datetime.timedelta(hours=20, minutes=30), day + datetime.timedelta(hours=21, minutes=30)]
    ledger.ingest(
        [{"well_id": well, "timestamp": m, "flow_rate": 900.0, "pip": 1000.0, "motor_current": 40.0} for m in moments]
    )
    refresh_rollups()
    zone = zoneinfo.ZoneInfo(settings.ANALYTICS_TIMEZONE)
    local_dates = {m.astimezone(zone).date() for m in moments}
    days = read_rollup("telemetry_daily", ["reading_count"])
    assert {bucket.astimezone(zone).date() for _, bucket in days} == local_dates
    assert all(bucket.astimezone(zone).time() == datetime.time(0) for _, bucket in days)
    if settings.ANALYTICS_TIMEZONE == "Asia/Riyadh":  # what make test runs with
        assert len(days) == 2


def test_refresh_lag_tells_how_old_the_newest_materialized_hour_is(two_wells, ledger, rng):
    now = timezone.now()
    ledger.ingest(
        generate_readings(
            rng, [two_wells[0].well_id], now - datetime.timedelta(hours=5), now - datetime.timedelta(hours=3), 50
        )
    )
    refresh_rollups()
    lag = refresh_lag()
    assert lag is not None
    assert datetime.timedelta(hours=2) < lag < datetime.timedelta(hours=6)
