"""Ingestion throughput through a real server, against raw COPY of the same rows in the same run.

- Batch: POST /api/v1/telemetry/batch with 10,000-reading batches to gunicorn (2 workers), from two
  client threads so both workers are busy; readings/s.
- Baseline: psql ``\\copy`` of the very same rows into the same table (after deleting them), and
  the ratio HTTP / COPY. Target: ≥ 0.5× and ≥ 30,000 readings/s on 2 cores.
- Single readings: POST /api/v1/telemetry/ingest from 16 concurrent clients; requests/s and p95.

Nothing here asserts a time; it asserts every reading was stored. Run with ``make bench``.
"""

import concurrent.futures
import datetime
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time

import dj_database_url
import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection

from tests.benchmarks.server import bearer_token, running_server
from tests.factories import WellFactory
from wells.models import Well

WELLS = 20
BATCHES = 20
BATCH_SIZE = 10_000
SINGLE_CLIENTS = 16
SINGLE_SECONDS = 10
PASSWORD = "benchmark-operator-password-1"
COLUMNS = ("well_id", "time", "flow_rate", "pip", "casing_pressure", "tubing_pressure", "intake_pressure",
           "discharge_pressure", "motor_current", "motor_temp", "vibration")  # fmt: skip


def reading(well_id, moment, n):
    return {
        "well_id": well_id,
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "flow_rate": 900.0 + n % 200,
        "pip": 1150.0 + n % 50,
        "casing_pressure": 210.0,
        "tubing_pressure": 480.0,
        "intake_pressure": 1140.0,
        "discharge_pressure": 3300.0,
        "motor_current": 46.0 + (n % 10) / 10,
        "motor_temp": 95.0,
        "vibration": 1.6,
    }


@pytest.fixture(scope="module")
def bench_wells(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        for n in range(1, WELLS + 1):
            if not Well.objects.filter(well_id=f"INGEST-{n:03d}").exists():
                WellFactory(well_id=f"INGEST-{n:03d}", install_date=datetime.date(2024, 1, 1))
        operator, _ = User.objects.get_or_create(username="bench_operator")
        operator.set_password(PASSWORD)
        operator.save()
        operator.groups.add(Group.objects.get(name="operator"))
        wells = {w.well_id: w.pk for w in Well.objects.filter(well_id__startswith="INGEST-")}
        yield wells


def clear_readings(wells):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM telemetry_reading WHERE well_id = ANY(%s)", [list(wells.values())])
        cursor.execute("DELETE FROM telemetry_readingchange WHERE well_id = ANY(%s)", [list(wells.values())])


def stored_count(wells):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading WHERE well_id = ANY(%s)", [list(wells.values())])
        return cursor.fetchone()[0]


def test_batch_ingest_against_raw_copy(bench_wells, django_db_blocker):
    # 200,000 readings: 20 wells × 10,000 one-second steps in a recent, fully past window.
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=2)
    ids = sorted(bench_wells)
    rows = [
        reading(ids[n % WELLS], start + datetime.timedelta(seconds=n // WELLS), n) for n in range(BATCHES * BATCH_SIZE)
    ]
    bodies = [json.dumps({"readings": rows[i : i + BATCH_SIZE]}).encode() for i in range(0, len(rows), BATCH_SIZE)]

    with django_db_blocker.unblock():
        clear_readings(bench_wells)
    with running_server(workers=2) as (base, _):
        token = bearer_token(base, "bench_operator", PASSWORD)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        requests.post(f"{base}/api/v1/telemetry/batch", data=bodies[0], headers=headers, timeout=120)  # warm up
        with django_db_blocker.unblock():
            clear_readings(bench_wells)
        queue = list(bodies)
        lock = threading.Lock()

        def post_batches():
            with requests.Session() as session:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    response = session.post(f"{base}/api/v1/telemetry/batch", data=body, headers=headers, timeout=120)
                    assert response.status_code == 201, response.text[:300]

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(post_batches) for _ in range(2)]:
                future.result()
        http_seconds = time.perf_counter() - started
    with django_db_blocker.unblock():
        assert stored_count(bench_wells) == len(rows)
        clear_readings(bench_wells)

    # The same rows through psql's \copy into the same table.
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as csv:
        for row in rows:
            values = [str(bench_wells[row["well_id"]]), row["timestamp"]] + [str(row[c]) for c in COLUMNS[2:]]
            csv.write(",".join(values) + "\n")
    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    copy = f"\\copy telemetry_reading ({', '.join(COLUMNS)}) FROM '{csv.name}' WITH (FORMAT csv)"
    started = time.perf_counter()
    subprocess.run(
        ["psql", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", db["NAME"], "-q", "-c", copy],
        check=True,
    )
    copy_seconds = time.perf_counter() - started
    os.unlink(csv.name)
    with django_db_blocker.unblock():
        assert stored_count(bench_wells) == len(rows)
        clear_readings(bench_wells)

    http_rate, copy_rate = len(rows) / http_seconds, len(rows) / copy_seconds
    print(f"\nbatch ingest: {len(rows):,} readings in {BATCHES} batches of {BATCH_SIZE:,}")
    print(f"  HTTP POST /telemetry/batch (gunicorn, 2 workers): {http_seconds:.2f} s = {http_rate:,.0f} readings/s")
    print(f"  psql \\copy of the same rows:                      {copy_seconds:.2f} s = {copy_rate:,.0f} readings/s")
    print(f"  ratio HTTP / COPY: {http_rate / copy_rate:.2f}×")


def test_single_reading_ingest_at_16_concurrent_clients(bench_wells, django_db_blocker):
    with django_db_blocker.unblock():
        clear_readings(bench_wells)
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=1)
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    ids = sorted(bench_wells)
    latencies = []

    with running_server(workers=2) as (base, _):
        token = bearer_token(base, "bench_operator", PASSWORD)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        deadline = time.perf_counter() + SINGLE_SECONDS

        def client():
            mine = []
            with requests.Session() as session:
                while time.perf_counter() < deadline:
                    with counter_lock:
                        n = next(counter)
                    body = json.dumps(reading(ids[n % WELLS], start + datetime.timedelta(seconds=n // WELLS), n))
                    began = time.perf_counter()
                    response = session.post(f"{base}/api/v1/telemetry/ingest", data=body, headers=headers, timeout=30)
                    mine.append(time.perf_counter() - began)
                    assert response.status_code == 201, response.text[:300]
            return mine

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(SINGLE_CLIENTS) as pool:
            for future in [pool.submit(client) for _ in range(SINGLE_CLIENTS)]:
                latencies.extend(future.result())
        seconds = time.perf_counter() - started
    with django_db_blocker.unblock():
        assert stored_count(bench_wells) == len(latencies)
        clear_readings(bench_wells)
    latencies.sort()
    p50, p95 = statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.95) - 1] * 1000
    print(f"\nsingle-reading ingest, {SINGLE_CLIENTS} concurrent clients for {SINGLE_SECONDS} s:")
    print(f"  {len(latencies) / seconds:,.0f} requests/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms")
