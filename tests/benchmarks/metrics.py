"""What the metrics cost: per request (django-prometheus's middleware), per query (its database wrapper),
and per scrape of /metrics with 2,000 wells.

Run with ``make bench BENCH=tests/benchmarks/metrics.py`` (never by ``make test``; nothing is asserted as a
time, the targets are printed beside the figures).

- **Per request**: the same requests through Django's whole middleware stack with and without the two
  Prometheus middlewares (before first, after last), taking turns within each round so a machine that
  slows down slows both alike; in this process (metrics in memory) and in a subprocess in multiprocess
  mode (each increment written to a memory-mapped file, as under gunicorn). Target: < 1 ms per request.
- **Per query**: ``SELECT 1`` on a psycopg cursor with django-prometheus's counting subclass against
  Django's plain cursor class on the same connection.
- **Per scrape**, 2,000 active wells (``METR-00001``… of this benchmark, 95 % reporting, 5 % with an open
  alarm; every other benchmark's active well is set aside in a transaction that is rolled back): the
  database- and Redis-backed gauges read afresh (what one scrape per ``METRICS_CACHE_SECONDS`` pays), and
  answered from the cache (the others). Target: < 200 ms. Then through gunicorn (2 workers, multiprocess
  files of every process kind) against whatever the benchmark database holds.
"""

import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from alarms.lifecycle import raise_alarm
from alarms.models import Alarm
from operations import metrics
from telemetry.ingest import store_rows
from tests.benchmarks.server import PROJECT
from tests.factories import WellFactory
from wells.models import Well, WellStatus

WELLS = 2_000
REPORTING_SHARE = 0.95
ALARM_EVERY = 20  # one well in 20 has an open alarm
VIEWER = "bench_metrics_viewer"
ROUNDS = 30
CALLS_PER_ROUND = 100
SCRAPES = 40
PROMETHEUS_MIDDLEWARE = (
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
)


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def with_and_without(with_metrics, without_metrics):
    """µs per call {"with", "without", "added"}: medians over ROUNDS of the mean of CALLS_PER_ROUND calls; the
    two take turns (each going first in every other round), and "added" is the median of each round's
    difference, which cancels what a busy machine does to both alike."""
    calls = {"with": with_metrics, "without": without_metrics}
    for call in calls.values():
        for _ in range(50):  # warm connections, caches, the metric children
            call()
    rounds = {name: [] for name in calls}
    for number in range(ROUNDS):
        for name in ("with", "without") if number % 2 else ("without", "with"):
            started = time.perf_counter_ns()
            for _ in range(CALLS_PER_ROUND):
                calls[name]()
            rounds[name].append((time.perf_counter_ns() - started) / CALLS_PER_ROUND / 1000)
    added = statistics.median(a - b for a, b in zip(rounds["with"], rounds["without"], strict=True))
    return {"with": statistics.median(rounds["with"]), "without": statistics.median(rounds["without"]), "added": added}


class QueryCounter:
    """An execute wrapper counting the queries run through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, *args):
        self.count += 1
        return execute(*args)


def measure_per_request_and_query():
    """µs per call of each request with and without the Prometheus middleware, and per query; a dict."""
    from django.conf import settings
    from django.db.backends.postgresql.base import Cursor

    viewer = User.objects.get(username=VIEWER)
    with_metrics, without_metrics = Client(), Client()
    for client in (with_metrics, without_metrics):
        client.force_login(viewer)
    plain = [name for name in settings.MIDDLEWARE if name not in PROMETHEUS_MIDDLEWARE]
    with override_settings(MIDDLEWARE=plain):
        assert without_metrics.get("/health").status_code == 200  # loads its middleware chain now, without
    assert with_metrics.get("/health").status_code == 200
    figures = {}
    for label, path in (
        ("GET /health (no database)", "/health"),
        ("GET /api/v1/wells/?page_size=1", "/api/v1/wells/?page_size=1"),
    ):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            assert with_metrics.get(path).status_code == 200
        figures[f"{label}, {counter.count} queries"] = with_and_without(
            lambda path=path: with_metrics.get(path), lambda path=path: without_metrics.get(path)
        )
    connection.ensure_connection()
    counting = connection.connection.cursor()  # the connection's cursor_factory: django-prometheus's subclass
    bare = Cursor(connection.connection)  # what django-prometheus subclasses
    assert type(counting).execute is not Cursor.execute

    def select_one(cursor):
        cursor.execute("SELECT 1")
        cursor.fetchone()

    figures["SELECT 1"] = with_and_without(lambda: select_one(counting), lambda: select_one(bare))
    return figures


# Runs measure_per_request_and_query() in a process whose metrics live in multiprocess files.
MULTIPROCESS_SCRIPT = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from tests.benchmarks.metrics import measure_per_request_and_query
print("FIGURES " + json.dumps(measure_per_request_and_query()))
"""


def ensure_metrics_fleet():
    """The 2,000 METR wells, 95 % with a reading 2 minutes ago, one in 20 with an open alarm."""
    existing = set(Well.objects.filter(well_id__startswith="METR-").values_list("well_id", flat=True))
    Well.objects.bulk_create(
        [
            WellFactory.build(
                well_id=f"METR-{n:05d}", name=f"Metrics bench {n}", install_date=datetime.date(2024, 1, 1)
            )
            for n in range(1, WELLS + 1)
            if f"METR-{n:05d}" not in existing
        ],
        batch_size=500,
    )
    fleet = list(Well.objects.filter(well_id__startswith="METR-").order_by("well_id"))
    Well.objects.filter(pk__in=[well.pk for well in fleet]).update(status=WellStatus.ACTIVE)
    now = timezone.now().replace(microsecond=0)
    reporting = fleet[: int(WELLS * REPORTING_SHARE)]
    store_rows(
        [
            (well.pk, now - datetime.timedelta(minutes=2), 1000.0, 800.0, None, None, None, None, 40.0, None, None)
            for well in reporting
        ]
    )
    already = set(Alarm.objects.open().filter(well__in=fleet).values_list("well_id", flat=True))
    for well in fleet[::ALARM_EVERY]:
        if well.pk not in already:
            raise_alarm(
                well, "gas_lock" if well.pk % 2 else "overload", "critical" if well.pk % 3 else "warning", at=now
            )
    viewer, _ = User.objects.get_or_create(username=VIEWER)
    viewer.groups.add(Group.objects.get(name="viewer"))
    return fleet


@pytest.fixture(scope="module")
def metrics_fleet(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield ensure_metrics_fleet()


def print_request_figures(title, figures):
    print(f"\n{title}: µs per call (median of {ROUNDS} rounds x {CALLS_PER_ROUND})")
    print(f"  {'':<44} {'with':>9} {'without':>9} {'added':>8}   target")
    for label, timed in figures.items():
        target = "< 1,000 µs per request" if label.startswith("GET") else "(per query)"
        print(f"  {label:<44} {timed['with']:>9.1f} {timed['without']:>9.1f} {timed['added']:>8.1f}   {target}")


def test_metrics_overhead_per_request_and_per_query(metrics_fleet, django_db_blocker):
    with django_db_blocker.unblock():
        print_request_figures("In-process metrics (single process)", measure_per_request_and_query())
    with tempfile.TemporaryDirectory(prefix="esp-bench-metrics-") as directory:
        result = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT],
            cwd=PROJECT,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("FIGURES "))
    print_request_figures("Multiprocess mode (as under gunicorn)", json.loads(line.removeprefix("FIGURES ")))


def test_scrape_time_with_2000_wells(metrics_fleet, django_db_blocker, settings):
    settings.METRICS_CACHE_SECONDS = 15
    with django_db_blocker.unblock(), transaction.atomic():
        Well.objects.exclude(well_id__startswith="METR-").filter(status=WellStatus.ACTIVE).update(
            status=WellStatus.MAINTENANCE
        )  # undone by the rollback below
        metrics._platform = None
        client = Client()
        started = time.perf_counter()
        first = client.get("/metrics")
        first_ms = (time.perf_counter() - started) * 1000
        text = first.content.decode()
        assert "esp_wells_reporting 1900.0" in text and "esp_wells_stale 100.0" in text, text[:2000]
        collector = metrics.platform_collector()

        def scrape_ms(fresh):
            if fresh:
                collector._read_at = None  # the gauges are read again, as once per METRICS_CACHE_SECONDS
            started = time.perf_counter()
            assert client.get("/metrics").status_code == 200
            return (time.perf_counter() - started) * 1000

        fresh = percentiles([scrape_ms(True) for _ in range(SCRAPES)])
        cached = percentiles([scrape_ms(False) for _ in range(SCRAPES)])
        sections = {}
        now = datetime.datetime.now(datetime.UTC)
        for name, _, read in metrics.SECTIONS:
            times = []
            for _ in range(10):
                started = time.perf_counter()
                read(now)
                times.append((time.perf_counter() - started) * 1000)
            sections[name] = statistics.median(times)
        transaction.set_rollback(True)
    metrics._platform = None
    print(f"\n/metrics in-process, {WELLS:,} active wells, {len(text.splitlines()):,} lines   p50 ms   p95 ms   target")
    print(f"  {'gauges read afresh (one scrape per 15 s)':<54} {fresh[0]:>6.1f} {fresh[1]:>8.1f}   < 200 ms")
    print(f"  {'gauges from the cache (every other scrape)':<54} {cached[0]:>6.1f} {cached[1]:>8.1f}")
    print(f"  {'first scrape of a process (migrations read too)':<54} {first_ms:>6.1f}")
    print("  sections, median ms: " + ", ".join(f"{name} {ms:.1f}" for name, ms in sections.items()))


def test_scrape_time_through_gunicorn(metrics_fleet, django_db_blocker):
    """2 workers with their multiprocess files and some traffic counted; what the bench database holds."""
    with django_db_blocker.unblock():
        active = Well.objects.filter(status=WellStatus.ACTIVE).count()
    from tests.benchmarks.server import free_port

    with tempfile.TemporaryDirectory(prefix="esp-bench-metrics-dir-") as metrics_dir:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--log-level", "warning"],
            cwd=PROJECT,
            env={**os.environ, "METRICS_DIR": metrics_dir},
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
            for _ in range(200):  # traffic for the request metrics of both workers
                requests.get(f"{base}/health", timeout=10, headers={"Connection": "close"})
            samples = []
            for _ in range(SCRAPES):
                started = time.perf_counter()
                response = requests.get(f"{base}/metrics", timeout=30)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            files = len(os.listdir(os.path.join(metrics_dir, "web")))
        finally:
            server.terminate()
            server.wait(timeout=20)
    p50, p95 = percentiles(samples)
    print(f"\nGET /metrics through gunicorn (2 workers, {files} metrics files, {active:,} active wells, "
          f"cache as configured): p50 {p50:.1f} ms, p95 {p95:.1f} ms, worst {max(samples):.1f} ms")  # fmt: skip
