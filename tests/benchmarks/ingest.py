"""Ingestion throughput through a real server, against COPY of the same rows in the same run.

Batch (``test_batch_ingest_against_copy``): 200,000 readings in 20 batches of 10,000.
- HTTP: POST /api/v1/telemetry/batch to gunicorn with SESSIONS sync workers (one database session
  each), fed by SESSIONS client threads; every batch is one transaction.
- Baselines, the same rows in the same batches over SESSIONS database sessions, one transaction per
  batch, the rows already encoded (binary COPY format, as ingest writes them): COPY into
  ``telemetry_reading``, and COPY into a plain table with the readings' columns and primary key (the
  limit: what PostgreSQL takes at best).
- The three take turns, ROUNDS times; medians are reported and checked.
- Targets: HTTP ≥ 0.5× the plain-table limit, and ≥ 60,000 readings/s.

Single readings (``test_single_reading_ingest_at_16_concurrent_clients``): POST /api/v1/telemetry/ingest
from 16 concurrent clients to gunicorn with 2 workers of 4 threads (as ``runplatform`` runs it);
requests/s and p50/p95. Target: ≥ 2× the 215–267 requests/s measured before psycopg 3 and the pool (2 × 267).

Where a batch's time goes (``test_where_a_batch_spends_its_time``): one 10,000-reading batch in this
process, phase by phase; printed, not checked.

Every test checks every reading was stored once, and fails when a target is missed. Run with
``make bench BENCH=tests/benchmarks/ingest.py``.
"""

import concurrent.futures
import datetime
import io
import json
import statistics
import threading
import time

import psycopg
import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection, transaction

from telemetry import ingest
from telemetry.storage.schema import READING_COLUMNS
from tests.benchmarks.server import bearer_token, running_server
from tests.factories import WellFactory
from wells.models import Well

WELLS = 20
BATCHES = 20
BATCH_SIZE = 10_000
SESSIONS = 2
ROUNDS = 3
SINGLE_CLIENTS = 16
SINGLE_SECONDS = 10
PASSWORD = "benchmark-operator-password-1"

HTTP_TO_LIMIT_TARGET = 0.5
HTTP_READINGS_PER_SECOND_TARGET = 60_000
SINGLE_REQUESTS_PER_SECOND_TARGET = 2 * 267

COLUMNS = ", ".join(f'"{name}"' for name in READING_COLUMNS)
COPY_TYPES = ("int8", "timestamptz", *["float8"] * (len(READING_COLUMNS) - 2))
PLAIN_TABLE = "bench_plain_readings"
# The limit: a plain table with the readings' columns and primary key, no partitions, no trigger.
CREATE_PLAIN_TABLE = f'CREATE TABLE {PLAIN_TABLE} (LIKE telemetry_reading, PRIMARY KEY (well_id, "time"))'
DROP_PLAIN_TABLE = f"DROP TABLE IF EXISTS {PLAIN_TABLE}"


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


def batches_of_readings(wells, start):
    """BATCHES lists of BATCH_SIZE reading dicts: WELLS wells at one-second steps from ``start``."""
    ids = sorted(wells)
    rows = [
        reading(ids[n % WELLS], start + datetime.timedelta(seconds=n // WELLS), n) for n in range(BATCHES * BATCH_SIZE)
    ]
    return [rows[i : i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]


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
    """Delete the benchmark's readings, and vacuum: a dead index entry for the same key would slow the next
    run's inserts (each must check it), which the fresh plain table does not pay."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM telemetry_reading WHERE well_id = ANY(%s)", [list(wells.values())])
        cursor.execute("DELETE FROM telemetry_readingchange WHERE well_id = ANY(%s)", [list(wells.values())])
        cursor.execute("VACUUM telemetry_reading, telemetry_readingchange")


def stored_count(wells, table="telemetry_reading"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(DISTINCT (well_id, time)), count(*) FROM {table} WHERE well_id = ANY(%s)",
                       [list(wells.values())])  # fmt: skip
        distinct, rows = cursor.fetchone()
    assert distinct == rows
    return rows


def in_parallel(work, items, sessions):
    """Seconds for ``sessions`` threads to run ``work(item, state)`` over ``items``; ``state`` is what
    ``work.open()`` gave that thread (its database session, its HTTP session), closed at the end."""
    queue = list(reversed(items))
    lock = threading.Lock()

    def worker():
        with work.open() as state:
            while True:
                with lock:
                    if not queue:
                        return
                    item = queue.pop()
                work(item, state)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(sessions) as pool:
        for future in [pool.submit(worker) for _ in range(sessions)]:
            future.result()
    return time.perf_counter() - started


def database_session():
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"],
        port=settings["PORT"],
    )


def encoded_batches(batches, wells):
    """Each batch as the bytes of a binary COPY, encoded by psycopg before any timing starts."""
    encoded = []
    with database_session() as session, session.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_encode (LIKE telemetry_reading)")
        for batch in batches:
            cursor.execute("TRUNCATE bench_encode")
            with cursor.copy(f"COPY bench_encode ({COLUMNS}) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.set_types(COPY_TYPES)
                for r in batch:
                    time_ = datetime.datetime.fromisoformat(r["timestamp"])
                    copy.write_row((wells[r["well_id"]], time_, *(r[name] for name in READING_COLUMNS[2:])))
            data = io.BytesIO()
            with cursor.copy(f"COPY bench_encode ({COLUMNS}) TO STDOUT WITH (FORMAT binary)") as copy:
                for chunk in copy:
                    data.write(chunk)
            encoded.append(data.getvalue())
    return encoded


class CopyInto:
    """Work for ``in_parallel``: COPY one encoded batch into ``table``, one transaction per batch."""

    def __init__(self, table):
        self.statement = f"COPY {table} ({COLUMNS}) FROM STDIN WITH (FORMAT binary)"

    def open(self):
        return database_session()

    def __call__(self, data, session):
        with session.transaction(), session.cursor() as cursor, cursor.copy(self.statement) as copy:
            copy.write(data)


class PostBatch:
    """Work for ``in_parallel``: POST one batch body, expecting 201."""

    def __init__(self, url, headers):
        self.url, self.headers = url, headers

    def open(self):
        return requests.Session()

    def __call__(self, body, session):
        response = session.post(self.url, data=body, headers=self.headers, timeout=120)
        assert response.status_code == 201, response.text[:300]


def test_batch_ingest_against_copy(bench_wells, django_db_blocker):
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=2)
    batches = batches_of_readings(bench_wells, start)
    total = BATCHES * BATCH_SIZE
    bodies = [json.dumps({"readings": batch}).encode() for batch in batches]
    encoded = encoded_batches(batches, bench_wells)

    seconds = {"http": [], "readings": [], "limit": []}

    def cleared(table="telemetry_reading"):
        with django_db_blocker.unblock():
            assert stored_count(bench_wells, table) == total
            clear_readings(bench_wells)
            with connection.cursor() as cursor:
                cursor.execute(DROP_PLAIN_TABLE)
                cursor.execute(CREATE_PLAIN_TABLE)

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        clear_readings(bench_wells)
        cursor.execute(DROP_PLAIN_TABLE)
        cursor.execute(CREATE_PLAIN_TABLE)
    try:
        with running_server(workers=SESSIONS) as (base, _):
            token = bearer_token(base, "bench_operator", PASSWORD)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            post = PostBatch(f"{base}/api/v1/telemetry/batch", headers)
            in_parallel(post, bodies[:SESSIONS], SESSIONS)  # warm up every worker
            with django_db_blocker.unblock():
                clear_readings(bench_wells)
            # Taking turns, so that a machine that slows down for a while slows all three alike.
            for _ in range(ROUNDS):
                seconds["limit"].append(in_parallel(CopyInto(PLAIN_TABLE), encoded, SESSIONS))
                cleared(PLAIN_TABLE)
                seconds["readings"].append(in_parallel(CopyInto("telemetry_reading"), encoded, SESSIONS))
                cleared()
                seconds["http"].append(in_parallel(post, bodies, SESSIONS))
                cleared()
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(DROP_PLAIN_TABLE)

    rate = {name: total / statistics.median(times) for name, times in seconds.items()}
    to_limit = statistics.median(limit / http for http, limit in zip(seconds["http"], seconds["limit"], strict=True))
    print(f"\nbatch ingest: {total:,} readings in {BATCHES} batches of {BATCH_SIZE:,}, {SESSIONS} database sessions, "
          f"median of {ROUNDS} rounds")  # fmt: skip
    for name, label in (
        ("http", "HTTP POST /telemetry/batch (gunicorn)"),
        ("readings", "COPY into telemetry_reading"),
        ("limit", "COPY into a plain table with its key (limit)"),
    ):
        times = ", ".join(f"{t:.2f}" for t in seconds[name])
        print(f"  {label:<46} {rate[name]:9,.0f} readings/s  ({times} s)")
    print(f"  HTTP / limit: {to_limit:.2f}× (target ≥ {HTTP_TO_LIMIT_TARGET}×); HTTP / COPY into telemetry_reading: "
          f"{rate['http'] / rate['readings']:.2f}×")  # fmt: skip
    assert to_limit >= HTTP_TO_LIMIT_TARGET, "HTTP batch ingest is below half the plain-table limit"
    assert rate["http"] >= HTTP_READINGS_PER_SECOND_TARGET, (
        f"HTTP batch ingest is below {HTTP_READINGS_PER_SECOND_TARGET:,}/s"
    )


def test_single_reading_ingest_at_16_concurrent_clients(bench_wells, django_db_blocker):
    with django_db_blocker.unblock():
        clear_readings(bench_wells)
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=1)
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    ids = sorted(bench_wells)
    latencies = []

    with running_server(workers=2, threads=4) as (base, _):
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
    rate = len(latencies) / seconds
    p50, p95 = statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.95) - 1] * 1000
    print(f"\nsingle-reading ingest, {SINGLE_CLIENTS} clients for {SINGLE_SECONDS} s, gunicorn 2 workers × 4 threads:")
    print(
        f"  {rate:,.0f} requests/s (target ≥ {SINGLE_REQUESTS_PER_SECOND_TARGET}), p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    assert rate >= SINGLE_REQUESTS_PER_SECOND_TARGET, "single-reading ingest is below its target"


def test_where_a_batch_spends_its_time(bench_wells, django_db_blocker):
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(hours=30)
    body = json.dumps({"readings": batches_of_readings(bench_wells, start)[0]}).encode()
    phases = {}

    def timed(name, call, *args):
        began = time.perf_counter()
        result = call(*args)
        phases[name] = phases.get(name, 0) + time.perf_counter() - began
        return result

    with django_db_blocker.unblock():
        clear_readings(bench_wells)
        readings = timed("decode (msgspec)", ingest.parse_batch, body)
        rows = timed("validate (one query for the wells)", ingest.validate_readings, readings)
        timed("partitions ready (a query on a process's first batch)", ingest.storage.prepare_days,
              {row[1].date() for row in rows})  # fmt: skip
        wells = {row[0] for row in rows}
        atomic = transaction.atomic()
        timed("BEGIN", atomic.__enter__)
        with connection.cursor() as cursor:
            inserted, _ = timed("COPY into telemetry_reading, lock wells, log hours", ingest._store_batch,
                                cursor, rows, wells)  # fmt: skip
        timed("COMMIT", atomic.__exit__, None, None, None)
        assert inserted == BATCH_SIZE
        clear_readings(bench_wells)
    total = sum(phases.values())
    print(f"\none {BATCH_SIZE:,}-reading batch in this process, {total * 1000:.0f} ms:")
    for name, seconds in phases.items():
        print(f"  {name:<48} {seconds * 1000:7.1f} ms  {seconds / total:4.0%}")
