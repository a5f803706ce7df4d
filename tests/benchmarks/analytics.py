"""Analytics from rollups against the same answers computed from raw readings, at fleet scale.

Data: 100 wells × 90 days of 1-minute readings (≈13 M rows), written by the simulator's backfill
into the benchmark database once and kept between runs. For each analytics endpoint it prints:
- p50/p95 latency through the HTTP server (gunicorn, 2 workers);
- p50/p95 of the endpoint's query on the rollups and of the same answer computed from raw
  readings, in this run, and their ratio;
and the hidden cost of the refresh: one incremental refresh after a minute of ingest at
1,000 readings/s. Nothing here asserts a time; it asserts the two answers agree.

Run with ``make bench`` (``PYTEST_ARGS=-k analytics`` for this one alone).
"""

import datetime
import random
import statistics
import time

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from analytics import queries
from analytics.rollups import refresh_rollups
from analytics.rollups.definitions import DAILY_AGGREGATES, HOURLY_AGGREGATES
from analytics.scoring import EFFICIENCY_SQL, HEALTH_SQL, SPECS_SQL
from telemetry.ingest import ReadingIn, ingest_readings
from telemetry.simulator.backfill import backfill
from telemetry.storage import storage_status
from tests.benchmarks.server import bearer_token, running_server
from tests.factories import WellFactory
from wells.models import Well

WELLS = 100
DAYS = 90
INTERVAL_S = 60
HTTP_REQUESTS = 200
QUERY_RUNS = 30
RAW_RUNS = 10
BENCH_PASSWORD = "benchmark-viewer-password-1"

RAW_HOURLY = f"""
SELECT date_trunc('hour', r.time) AS bucket, {HOURLY_AGGREGATES}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1 ORDER BY 1 DESC
"""

RAW_DAILY = f"""
SELECT date_trunc('day', r.time, %(tz)s) AS bucket, {DAILY_AGGREGATES}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1 ORDER BY 1 DESC
"""

RAW_PERFORMANCE = f"""
WITH h AS ({RAW_HOURLY.replace("ORDER BY 1 DESC", "")})
SELECT h.bucket, {EFFICIENCY_SQL} AS efficiency_score, {HEALTH_SQL} AS health_score
FROM h, (SELECT w.id, {SPECS_SQL} FROM wells_well w WHERE w.id = %(well)s) s
ORDER BY h.bucket DESC
"""

# Every well's newest hour in the last 24 h, scored, ranked over the fleet.
RAW_RANKING = f"""
WITH h AS (
    SELECT r.well_id, date_trunc('hour', r.time) AS bucket, {HOURLY_AGGREGATES}
    FROM telemetry_reading r WHERE r.time >= %(since)s GROUP BY 1, 2
), latest AS (SELECT DISTINCT ON (well_id) * FROM h ORDER BY well_id, bucket DESC)
SELECT w.well_id, {EFFICIENCY_SQL} AS efficiency_score
FROM latest h JOIN wells_well w ON w.id = h.well_id
JOIN (SELECT w.id, {SPECS_SQL} FROM wells_well w) s ON s.id = h.well_id
ORDER BY efficiency_score DESC, w.well_id LIMIT 10
"""


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def time_query(sql, params_for, runs):
    """(p50, p95) in ms of ``sql`` with fresh params per run; returns the last rows too."""
    samples, rows = [], None
    with connection.cursor() as cursor:
        for _ in range(runs):
            params = params_for()
            started = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples), rows


def time_http(session, url, params_for, runs):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url(), params=params_for(), timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return percentiles(samples)


def ensure_fleet():
    """100 wells with 90 days of 1-minute readings up to now; generated once, reused afterwards."""
    wells = [
        WellFactory.build(well_id=f"BENCH-{n:03d}", install_date=datetime.date(2024, 1, 1)) for n in range(1, WELLS + 1)
    ]
    existing = set(Well.objects.filter(well_id__startswith="BENCH-").values_list("well_id", flat=True))
    Well.objects.bulk_create([w for w in wells if w.well_id not in existing])
    fleet = list(Well.objects.filter(well_id__startswith="BENCH-").order_by("well_id"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(time) FROM telemetry_reading WHERE well_id = %s", [fleet[-1].pk])
        count, newest = cursor.fetchone()
    expected = DAYS * 86_400 // INTERVAL_S
    now = timezone.now().replace(second=0, microsecond=0)
    if count >= expected * 0.95 and newest and now - newest < datetime.timedelta(days=1):
        start = newest + datetime.timedelta(seconds=INTERVAL_S)  # top up to now
    else:
        start = now - datetime.timedelta(days=DAYS)
    started = time.perf_counter()
    written = backfill(fleet, start, now, interval=INTERVAL_S, seed=7)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        (total,) = cursor.fetchone()
    if written:
        print(f"\nbackfill: {written:,} readings in {seconds:.1f} s ({written / seconds:,.0f}/s)")
    size_mib = storage_status()["total_bytes"] / 2**20
    print(f"\ndata: {total:,} readings, {len(fleet)} wells, readings table {size_mib:,.0f} MiB with its indexes")
    return fleet


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        fleet = ensure_fleet()
        started = time.perf_counter()
        outcome = refresh_rollups()
        print(f"refresh after loading: {outcome} in {time.perf_counter() - started:.1f} s")
        viewer, _ = User.objects.get_or_create(username="bench_analytics_viewer")
        viewer.set_password(BENCH_PASSWORD)
        viewer.save()
        viewer.groups.add(Group.objects.get(name="viewer"))
        yield fleet


def test_analytics_from_rollups_against_raw(fleet, django_db_blocker):
    rng = random.Random(1)
    tz = settings.ANALYTICS_TIMEZONE
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)

    def one_well():
        return rng.choice(fleet)

    def window(hours):
        return lambda: {"well": one_well().pk, "start": hour - datetime.timedelta(hours=hours - 1),
                        "end": hour + datetime.timedelta(hours=1), "tz": tz}  # fmt: skip

    def days_window(days):
        return lambda: {"well": one_well().pk, "start": now - datetime.timedelta(days=days), "end": now, "tz": tz}

    cases = [
        ("hourly 24 h", queries.HOURLY, RAW_HOURLY, window(24)),
        ("hourly 7 d", queries.HOURLY, RAW_HOURLY, window(168)),
        ("hourly 30 d", queries.HOURLY, RAW_HOURLY, window(720)),
        ("daily 30 d", queries.DAILY, RAW_DAILY, days_window(30)),
        ("daily 90 d", queries.DAILY, RAW_DAILY, days_window(90)),
        ("performance 24 h", queries.PERFORMANCE, RAW_PERFORMANCE, window(24)),
        ("performance 7 d", queries.PERFORMANCE, RAW_PERFORMANCE, window(168)),
        ("performance 30 d", queries.PERFORMANCE, RAW_PERFORMANCE, window(720)),
        ("ranking efficiency", queries.RANKING[("efficiency", "desc")], RAW_RANKING,
         lambda: {"since": now - datetime.timedelta(hours=24), "limit": 10}),
    ]  # fmt: skip
    print(f"\n{'query':<20} {'rollup p50/p95 ms':>18} {'raw p50/p95 ms':>18} {'raw/rollup (p50)':>17}")
    with django_db_blocker.unblock():
        for label, rollup_sql, raw_sql, params_for in cases:
            (rollup_p50, rollup_p95), _ = time_query(rollup_sql, params_for, QUERY_RUNS)
            (raw_p50, raw_p95), _ = time_query(raw_sql, params_for, RAW_RUNS)
            print(
                f"{label:<20} {rollup_p50:>8.2f} / {rollup_p95:<8.2f} {raw_p50:>8.1f} / {raw_p95:<8.1f}"
                f" {raw_p50 / rollup_p50:>12.0f}×"
            )
        # Same answer: one well's last week, rollup against raw.
        params = window(168)()
        _, from_rollup = time_query(queries.HOURLY, lambda: params, 1)
        _, from_raw = time_query(RAW_HOURLY, lambda: params, 1)
        assert [(r[0], r[-3]) for r in from_rollup] == [(r[0], r[-3]) for r in from_raw]  # bucket, count
        assert all(abs(a[1] - b[1]) < 1e-6 for a, b in zip(from_rollup, from_raw, strict=True))

    endpoints = [
        ("GET hourly/{well}?hours=24", lambda: "telemetry/hourly/" + one_well().well_id, lambda: {"hours": 24}),
        ("GET daily/{well}?days=30", lambda: "telemetry/daily/" + one_well().well_id, lambda: {"days": 30}),
        ("GET performance/{well}?hours=24", lambda: "performance/" + one_well().well_id, lambda: {"hours": 24}),
        ("GET diagnostics/{well}?days=7", lambda: "diagnostics/" + one_well().well_id, lambda: {"days": 7}),
        ("GET overview", lambda: "overview", dict),
        ("GET ranking/efficiency", lambda: "ranking/efficiency", lambda: {"limit": 10}),
        ("GET ranking/health", lambda: "ranking/health", lambda: {"limit": 10, "order": "asc"}),
    ]
    print(f"\n{'HTTP endpoint (gunicorn, 2 workers)':<36} {'p50 ms':>8} {'p95 ms':>8}")
    with running_server(workers=2) as (base, _):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {bearer_token(base, 'bench_analytics_viewer', BENCH_PASSWORD)}"
        for label, path, params_for in endpoints:
            p50, p95 = time_http(
                session, lambda path=path: f"{base}/api/v1/analytics/{path()}", params_for, HTTP_REQUESTS
            )
            print(f"{label:<36} {p50:>8.2f} {p95:>8.2f}")


def test_cost_of_one_incremental_refresh_after_a_minute_of_ingest(fleet, django_db_blocker):
    """1,000 readings/s for 60 s across the fleet (600 per well), then one refresh."""
    with django_db_blocker.unblock():
        refresh_rollups()  # start from nothing pending
        end = timezone.now().replace(microsecond=0)
        readings = [
            ReadingIn(well_id=well.well_id, timestamp=end - datetime.timedelta(milliseconds=100 * i),
                      flow_rate=1000.0 + i % 7, pip=1200.0, motor_current=47.0, motor_temp=95.0, vibration=1.5)
            for well in fleet
            for i in range(600)
        ]  # fmt: skip
        for offset in range(0, len(readings), 10_000):
            ingest_readings(readings[offset : offset + 10_000])
        started = time.perf_counter()
        outcome = refresh_rollups()
        seconds = time.perf_counter() - started
    print(f"\nincremental refresh after 60,000 readings (1 min at 1,000/s): {seconds * 1000:.0f} ms — {outcome}")
