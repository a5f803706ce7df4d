"""Analytics from rollups against the same answers computed from raw readings, at fleet scale.

Data: 100 wells (BENCH_ANALYTICS_WELLS) × 90 days of 1-minute readings (≈13 M rows), written by the
simulator's backfill into the benchmark database once and kept between runs. For every query and
window it times, it checks that the rollup's answer equals the raw readings' answer over the same
whole buckets (hours; local days from midnight to midnight), then prints p50/p95 of both and their
ratio; then p50/p95 of every endpoint and window through the HTTP server (gunicorn, 2 workers); then
the same reads with a minute of ingest at 1,000 readings/s not yet refreshed (the views' pending
arm), and what the incremental refresh after it costs.

Targets, checked at the end (the test fails, so ``make bench`` exits non-zero, when one is missed):
- HTTP p95 ≤ 50 ms for every endpoint and window;
- raw p50 / rollup p50 ≥ 100× for windows of 30 days and longer;
- hourly over 30 days (720 rows) ≤ 3 ms p50 from the rollup (query and row shaping).

Run with ``make bench BENCH=tests/benchmarks/analytics.py``.
"""

import datetime
import math
import os
import random
import statistics
import time

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from analytics import queries
from analytics.api.params import start_of_local_day
from analytics.rollups import refresh_rollups
from analytics.rollups.definitions import DAILY_ROLLUP, HOURLY_ROLLUP, aggregates
from analytics.scoring import EFFICIENCY_SQL, HEALTH_SQL
from telemetry.ingest import ReadingIn, ingest_readings
from telemetry.simulator.backfill import backfill
from telemetry.storage import storage_status
from tests.benchmarks.server import bearer_token, running_server
from tests.factories import WellFactory
from wells.models import Well

WELLS = int(os.environ.get("BENCH_ANALYTICS_WELLS", "100"))
DAYS = 90
INTERVAL_S = 60
HTTP_REQUESTS = 200
QUERY_RUNS = 30
RAW_RUNS = 5
BENCH_PASSWORD = "benchmark-viewer-password-1"

HTTP_P95_MS = 50.0
RAW_RATIO_FROM_DAYS = 30
RAW_RATIO = 100.0
HOURLY_30_DAYS_MS = 3.0

# The rollups' answers computed from raw readings: same columns, same order as analytics.queries.
RAW_HOURLY = f"""
SELECT date_trunc('hour', r.time, 'UTC') AS bucket, {aggregates(HOURLY_ROLLUP)}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1
ORDER BY 1 DESC
"""

RAW_DAILY = f"""
SELECT date_trunc('day', r.time, analytics_timezone()) AS bucket,
       (date_trunc('day', r.time, analytics_timezone()) AT TIME ZONE analytics_timezone())::date AS local_date,
       {aggregates(DAILY_ROLLUP)}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1
ORDER BY 1 DESC
"""

RAW_PERFORMANCE = f"""
WITH h AS (
    SELECT date_trunc('hour', r.time, 'UTC') AS bucket, {aggregates(HOURLY_ROLLUP)}
    FROM telemetry_reading r
    WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
    GROUP BY 1
)
SELECT h.bucket, {EFFICIENCY_SQL} AS efficiency_score, {HEALTH_SQL} AS health_score, h.avg_flow_rate,
       h.avg_motor_current, h.avg_motor_temp, h.max_motor_temp, h.avg_vibration, h.reading_count
FROM h JOIN wells_well s ON s.id = %(well)s
ORDER BY h.bucket DESC
"""

# Every well's newest hour since %(since)s, scored, ranked over the fleet (queries.RANKING's columns).
RAW_RANKING = f"""
WITH h AS (
    SELECT r.well_id, date_trunc('hour', r.time, 'UTC') AS bucket, {aggregates(HOURLY_ROLLUP)}
    FROM telemetry_reading r WHERE r.time >= %(since)s GROUP BY 1, 2
), latest AS (SELECT DISTINCT ON (well_id) * FROM h ORDER BY well_id, bucket DESC)
SELECT s.well_id, s.name, s.field, s.status, h.bucket, {EFFICIENCY_SQL} AS efficiency_score,
       {HEALTH_SQL} AS health_score, h.avg_flow_rate, h.avg_motor_current, h.avg_motor_temp,
       h.max_motor_temp, h.avg_vibration, h.reading_count
FROM latest h JOIN wells_well s ON s.id = h.well_id
ORDER BY efficiency_score DESC, s.well_id LIMIT %(limit)s
"""


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def timed(read, params_for, runs):
    """(p50, p95) in ms of ``read(params)`` with fresh params per run."""
    samples = []
    for _ in range(runs):
        params = params_for()
        started = time.perf_counter()
        read(params)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def time_http(session, url, params_for, runs):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url(), params=params_for(), timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return percentiles(samples)


def assert_same_answer(label, from_rollup, from_raw):
    """Same rows, same buckets, every value equal (floats to 1e-9 relative)."""
    assert len(from_rollup) == len(from_raw), f"{label}: {len(from_rollup)} rollup rows, {len(from_raw)} raw"
    for got, want in zip(from_rollup, from_raw, strict=True):
        assert got.keys() == want.keys(), label
        for column, value in want.items():
            if isinstance(value, float) and got[column] is not None:
                assert math.isclose(got[column], value, rel_tol=1e-9, abs_tol=1e-9), (label, column, got, want)
            else:
                assert got[column] == value, (label, column, got[column], value)


def ensure_fleet():
    """WELLS wells with 90 days of 1-minute readings up to now; generated once, reused afterwards."""
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


@pytest.fixture(scope="module")
def missed():
    """Targets missed by any test of this module, checked at the end of each test."""
    return []


def query_cases(fleet, rng):
    """(label, window in days, rollup read, raw SQL, params) for every query and window timed."""
    now = timezone.now()
    next_hour = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    tomorrow = start_of_local_day(now) + datetime.timedelta(days=1)

    def hours(count):  # the last ``count`` whole hours, the current one included
        return lambda: {"well": rng.choice(fleet).pk, "start": next_hour - datetime.timedelta(hours=count),
                        "end": next_hour}  # fmt: skip

    def days(count):  # the last ``count`` local days, from midnight to midnight, today included
        return lambda: {"well": rng.choice(fleet).pk, "start": tomorrow - datetime.timedelta(days=count),
                        "end": tomorrow}  # fmt: skip

    def per_well(read):
        return lambda params: read(Well(pk=params["well"]), params["start"], params["end"])

    hourly, daily, performance = (
        per_well(queries.hourly_telemetry), per_well(queries.daily_telemetry), per_well(queries.well_performance)
    )  # fmt: skip
    since = now - datetime.timedelta(hours=24)
    return [
        ("hourly 24 h", 1, hourly, RAW_HOURLY, hours(24)),
        ("hourly 7 d", 7, hourly, RAW_HOURLY, hours(168)),
        ("hourly 30 d", 30, hourly, RAW_HOURLY, hours(720)),
        ("daily 30 d", 30, daily, RAW_DAILY, days(30)),
        ("daily 90 d", 90, daily, RAW_DAILY, days(90)),
        ("performance 24 h", 1, performance, RAW_PERFORMANCE, hours(24)),
        ("performance 7 d", 7, performance, RAW_PERFORMANCE, hours(168)),
        ("performance 30 d", 30, performance, RAW_PERFORMANCE, hours(720)),
        ("ranking efficiency", 1, lambda p: queries.ranking("efficiency", "desc", p["limit"], p["since"]),
         RAW_RANKING, lambda: {"since": since, "limit": 10}),
    ]  # fmt: skip


def compare_and_time(fleet, missed, title):
    rng = random.Random(1)
    print(f"\n{title}\n{'query':<20} {'rollup p50/p95 ms':>18} {'raw p50/p95 ms':>18} {'raw/rollup (p50)':>17}")
    for label, window_days, read, raw_sql, params_for in query_cases(fleet, rng):
        for _ in range(3):  # the same answer, for a few wells
            params = params_for()
            assert_same_answer(label, read(params), queries.fetch_rows(raw_sql, params))
        rollup_p50, rollup_p95 = timed(read, params_for, QUERY_RUNS)
        raw_p50, raw_p95 = timed(lambda params, sql=raw_sql: queries.fetch_rows(sql, params), params_for, RAW_RUNS)
        ratio = raw_p50 / rollup_p50
        print(f"{label:<20} {rollup_p50:>8.2f} / {rollup_p95:<8.2f} {raw_p50:>8.1f} / {raw_p95:<8.1f} {ratio:>12.0f}×")
        if window_days >= RAW_RATIO_FROM_DAYS and ratio < RAW_RATIO:
            missed.append(f"{title}: {label} is {ratio:.0f}× raw (target ≥ {RAW_RATIO:.0f}×)")
        if label == "hourly 30 d" and rollup_p50 > HOURLY_30_DAYS_MS:
            missed.append(f"{title}: hourly 30 d takes {rollup_p50:.2f} ms (target ≤ {HOURLY_30_DAYS_MS} ms)")


def test_analytics_from_rollups_against_raw(fleet, missed, django_db_blocker):
    with django_db_blocker.unblock():
        compare_and_time(fleet, missed, "refreshed (nothing pending)")

    rng = random.Random(2)

    def one_well():
        return rng.choice(fleet).well_id

    endpoints = [
        ("hourly/{well}?hours=24", lambda: "telemetry/hourly/" + one_well(), lambda: {"hours": 24}),
        ("hourly/{well}?hours=720", lambda: "telemetry/hourly/" + one_well(), lambda: {"hours": 720}),
        ("hourly/{well}?hours=720&bucket=1d", lambda: "telemetry/hourly/" + one_well(),
         lambda: {"hours": 720, "bucket": "1d"}),
        ("daily/{well}?days=30", lambda: "telemetry/daily/" + one_well(), lambda: {"days": 30}),
        ("daily/{well}?days=90", lambda: "telemetry/daily/" + one_well(), lambda: {"days": 90}),
        ("performance/{well}?hours=24", lambda: "performance/" + one_well(), lambda: {"hours": 24}),
        ("performance/{well}?hours=720", lambda: "performance/" + one_well(), lambda: {"hours": 720}),
        ("diagnostics/{well}?days=7", lambda: "diagnostics/" + one_well(), lambda: {"days": 7}),
        ("overview", lambda: "overview", dict),
        ("ranking/efficiency", lambda: "ranking/efficiency", lambda: {"limit": 10}),
        ("ranking/health", lambda: "ranking/health", lambda: {"limit": 10, "order": "asc"}),
    ]  # fmt: skip
    print(f"\n{'GET /api/v1/analytics/… (gunicorn, 2 workers)':<48} {'p50 ms':>8} {'p95 ms':>8}")
    with running_server(workers=2) as (base, _):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {bearer_token(base, 'bench_analytics_viewer', BENCH_PASSWORD)}"
        for label, path, params_for in endpoints:
            p50, p95 = time_http(
                session, lambda path=path: f"{base}/api/v1/analytics/{path()}", params_for, HTTP_REQUESTS
            )
            print(f"{label:<48} {p50:>8.2f} {p95:>8.2f}")
            if p95 > HTTP_P95_MS:
                missed.append(f"HTTP {label}: p95 {p95:.1f} ms (target ≤ {HTTP_P95_MS:.0f} ms)")
    assert not missed, "targets missed:\n" + "\n".join(missed)


def test_reads_with_a_minute_pending_and_the_refresh_after_it(fleet, missed, django_db_blocker):
    """1,000 readings/s for 60 s across the fleet, not yet refreshed: reads answer them in real time."""
    missed.clear()
    with django_db_blocker.unblock():
        refresh_rollups()  # start from nothing pending
        end = timezone.now().replace(microsecond=0)
        per_well = 60_000 // len(fleet)
        step = datetime.timedelta(seconds=60) / per_well
        readings = [
            ReadingIn(well_id=well.well_id, timestamp=end - step * i,
                      flow_rate=1000.0 + i % 7, pip=1200.0, motor_current=47.0, motor_temp=95.0, vibration=1.5)
            for well in fleet
            for i in range(per_well)
        ]  # fmt: skip
        for offset in range(0, len(readings), 10_000):
            ingest_readings(readings[offset : offset + 10_000])
        compare_and_time(fleet, missed, "a minute of ingest pending (views answer it from raw readings)")
        started = time.perf_counter()
        outcome = refresh_rollups()
        seconds = time.perf_counter() - started
    print(f"\nincremental refresh after {len(readings):,} readings (1 min at 1,000/s): {seconds * 1000:.0f} ms")
    print(f"({outcome})")
    assert not missed, "targets missed:\n" + "\n".join(missed)
