"""CSV export of 1,000,000 readings through a real server, with the server worker's memory watched.

One well gets ROWS readings one second apart (about 11.6 days), written straight into
``telemetry_reading`` by one ``INSERT … SELECT generate_series`` (and kept between runs). Gunicorn with
one sync worker serves GET /api/v1/telemetry/export.csv for the whole window to a client that reads
the stream as it comes; a thread polls the worker's RSS meanwhile. Prints rows, seconds, MB/s and the
worker's peak RSS against its RSS before the export.

It asserts every row arrived and that the worker grew by less than a bound far below what holding the
export would take (the CSV alone is about 90 MB); nothing timed. Run with ``make bench``.
"""

import datetime
import os
import threading
import time

import psutil
import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection

from telemetry import storage
from tests.benchmarks.server import bearer_token, running_server
from tests.factories import WellFactory
from wells.models import Well

ROWS = 1_000_000
WELL_ID = "EXPORT-001"
USERNAME = "bench_export_viewer"
PASSWORD = "benchmark-viewer-password-1"
# Flat means the worker holds one fetched batch, not the export: a few MB, never tens.
MAX_RSS_GROWTH_MB = 32

# ROWS readings of one well, one second apart, the newest at %(newest)s; one statement, no Python per row.
LOAD_READINGS = """
INSERT INTO telemetry_reading (
    well_id, "time", flow_rate, pip, casing_pressure, tubing_pressure, intake_pressure,
    discharge_pressure, motor_current, motor_temp, vibration
)
SELECT %(well)s, %(newest)s - make_interval(secs => n), 900 + mod(n, 200), 1150 + mod(n, 50), 210, 480, 1140,
       3300, 46 + mod(n, 10) / 10.0, 95, 1.6
FROM generate_series(0, %(rows)s - 1) AS n
"""
STORED_WINDOW = 'SELECT count(*), min("time"), max("time") FROM telemetry_reading WHERE well_id = %s'


@pytest.fixture(scope="module")
def export_well(django_db_setup, django_db_blocker):
    """The benchmark well with exactly ROWS readings (loaded once, reused by later runs); its (first, last) time."""
    with django_db_blocker.unblock():
        well = Well.objects.filter(well_id=WELL_ID).first() or WellFactory(
            well_id=WELL_ID, install_date=datetime.date(2024, 1, 1)
        )
        viewer, _ = User.objects.get_or_create(username=USERNAME)
        viewer.set_password(PASSWORD)
        viewer.save()
        viewer.groups.add(Group.objects.get(name="viewer"))
        with connection.cursor() as cursor:
            cursor.execute(STORED_WINDOW, [well.pk])
            count, first, last = cursor.fetchone()
            if count != ROWS:
                newest = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=1)
                oldest = newest - datetime.timedelta(seconds=ROWS - 1)
                days = {oldest.date() + datetime.timedelta(days=n) for n in range((newest - oldest).days + 2)}
                storage.prepare_days(days)
                started = time.perf_counter()
                cursor.execute("DELETE FROM telemetry_reading WHERE well_id = %s", [well.pk])
                cursor.execute(LOAD_READINGS, {"well": well.pk, "newest": newest, "rows": ROWS})
                cursor.execute("ANALYZE telemetry_reading")
                print(f"\nloaded {ROWS:,} readings for {WELL_ID} in {time.perf_counter() - started:.1f} s")
                first, last = oldest, newest
        yield first, last


class PeakRSS(threading.Thread):
    """Polls a process's resident set size every few milliseconds until stopped; keeps the highest."""

    def __init__(self, process):
        super().__init__(daemon=True)
        self.process = process
        self.peak = process.memory_info().rss
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.samples += 1
            time.sleep(0.005)

    def stop(self):
        self._stop_event.set()
        self.join()


def utc_text(moment):
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def test_export_of_a_million_rows_streams_with_flat_worker_memory(export_well, monkeypatch):
    first, last = export_well
    # The server listens on 127.0.0.1 and inherits this environment, which may name other hosts only.
    monkeypatch.setenv("ALLOWED_HOSTS", ",".join(filter(None, [os.environ.get("ALLOWED_HOSTS"), "127.0.0.1"])))
    url_params = {"well_id": WELL_ID, "start": utc_text(first), "end": utc_text(last + datetime.timedelta(seconds=1))}

    with running_server(workers=1) as (base, server):
        (worker,) = psutil.Process(server.pid).children()
        headers = {"Authorization": f"Bearer {bearer_token(base, USERNAME, PASSWORD)}"}
        url = f"{base}/api/v1/telemetry/export.csv"
        # Warm up on an hour of data, so first-request imports and caches are not counted as growth.
        warm_up = {**url_params, "end": utc_text(first + datetime.timedelta(hours=1))}
        requests.get(url, params=warm_up, headers=headers, timeout=60).raise_for_status()

        rss_before = worker.memory_info().rss
        watcher = PeakRSS(worker)
        watcher.start()
        received = lines = 0
        started = time.perf_counter()
        with requests.get(url, params=url_params, headers=headers, stream=True, timeout=600) as response:
            response.raise_for_status()
            disposition = response.headers["Content-Disposition"]
            for chunk in response.iter_content(chunk_size=1 << 16):
                received += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        watcher.stop()
        rss_after = worker.memory_info().rss

    megabytes = received / 1e6
    growth_mb = (watcher.peak - rss_before) / 2**20
    print(f"\nCSV export through gunicorn (1 sync worker): {disposition}")
    print(f"  rows:             {lines - 1:,} (+ header)")
    print(f"  body:             {megabytes:,.1f} MB")
    print(
        f"  time:             {seconds:.2f} s = {(lines - 1) / seconds:,.0f} rows/s = {megabytes / seconds:,.1f} MB/s"
    )
    print(f"  worker RSS:       {rss_before / 2**20:,.1f} MiB before, {watcher.peak / 2**20:,.1f} MiB peak, "
          f"{rss_after / 2**20:,.1f} MiB after ({watcher.samples:,} samples)")  # fmt: skip
    print(f"  peak RSS growth:  {growth_mb:,.1f} MiB while streaming {megabytes:,.0f} MB")

    assert lines - 1 == ROWS
    assert growth_mb < MAX_RSS_GROWTH_MB
