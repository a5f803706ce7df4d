"""Live dashboards: polling a small HTML fragment against server-sent events, under the project's
gunicorn setup (``make run``: 2 workers × 4 threads, gthread; production's Dockerfile: 4 × 4).

N simulated dashboards stay open on the fleet page for ``DURATION_S`` while a probe (someone else
opening ``/alarms/``) loads a page every ``PROBE_EVERY_S`` with a ``PROBE_TIMEOUT_S`` timeout:
- polling: each dashboard asks for ``/?fragment=live`` every ``EVERY_S`` seconds (what
  ``static/dashboards/js/live.js`` does);
- SSE: each dashboard holds one ``text/event-stream`` open, which sends the same fragment every
  ``EVERY_S`` seconds (``live_sse_app.py``: made by the same view, so the server work per update is
  the same).
For each it prints the updates the dashboards received against those due, the update latency (poll round
trip; for SSE, the time to the first event), how many probe page loads were answered within the timeout,
their p50/p95, and the gunicorn processes' CPU seconds.
Nothing is asserted as a time.

Uses whatever wells the benchmark database holds (``dashboards.py`` loads 2,000 DASH wells); the
number of active wells is printed. Run with ``make bench BENCH=tests/benchmarks/dashboards_live.py``.
"""

import contextlib
import math
import statistics
import threading
import time

import psutil
import pytest
import requests
from django.contrib.auth.models import Group, User

from tests.benchmarks.server import running_server
from wells.models import Well, WellStatus

CLIENTS = (4, 8, 16, 32)
DURATION_S = 20.0
EVERY_S = 5.0
PROBE_EVERY_S = 0.5
PROBE_TIMEOUT_S = 5.0
WORKERS, THREADS = 2, 4
USER, PASSWORD = "bench_live_viewer", "benchmark-live-password-1"


def gunicorn_with_sse():
    """The project plus the SSE variant of the live endpoint (tests/benchmarks/live_sse_app.py), over plain
    HTTP on loopback: the session and CSRF cookies must not be marked Secure for requests to send them."""
    return running_server(
        WORKERS,
        THREADS,
        app="tests.benchmarks.live_sse_app:application",
        environment={"SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"},
    )


def signed_in_session(base):
    session = requests.Session()
    session.get(f"{base}/login", timeout=10)
    response = session.post(
        f"{base}/login",
        data={"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/login"},
        timeout=10,
    )
    assert response.url.rstrip("/") == base, "sign-in failed"
    return session


def cpu_seconds(server):
    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def percentiles(samples):
    if not samples:
        return float("nan"), float("nan")
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def poller(base, session, deadline, latencies, updates):
    next_at = time.monotonic()
    while next_at < deadline:
        time.sleep(max(0.0, next_at - time.monotonic()))
        started = time.perf_counter()
        with contextlib.suppress(requests.RequestException):
            response = session.get(f"{base}/?fragment=live", timeout=30)
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
                updates.append(1)
        next_at += EVERY_S


def listener(base, session, deadline, latencies, updates):
    started = time.perf_counter()
    try:
        response = session.get(
            f"{base}/bench-sse?every={EVERY_S}", stream=True, timeout=(5, deadline - time.monotonic() + 5)
        )
        first = True
        for line in response.iter_lines():
            if time.monotonic() >= deadline:
                break
            if line == b"":  # end of one event
                if first:
                    latencies.append((time.perf_counter() - started) * 1000)
                    first = False
                updates.append(1)
        response.close()
    except requests.RequestException:
        pass  # never connected, or cut off: it received what it received


def probe(base, session, deadline, latencies, timeouts):
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            session.get(f"{base}/alarms/", timeout=PROBE_TIMEOUT_S)
            latencies.append((time.perf_counter() - started) * 1000)
        except requests.RequestException:
            timeouts.append(1)  # not answered within PROBE_TIMEOUT_S (or refused)
        time.sleep(PROBE_EVERY_S)


def run(base, server, mode, clients):
    deadline = time.monotonic() + DURATION_S
    sessions = [signed_in_session(base) for _ in range(clients + 1)]
    latencies, updates, probe_ms, timeouts = [], [], [], []
    cpu_before = cpu_seconds(server)
    worker = poller if mode == "polling" else listener
    threads = [threading.Thread(target=worker, args=(base, s, deadline, latencies, updates)) for s in sessions[1:]]
    threads.append(threading.Thread(target=probe, args=(base, sessions[0], deadline, probe_ms, timeouts)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION_S + 60)
    cpu = cpu_seconds(server) - cpu_before
    expected = clients * math.ceil(DURATION_S / EVERY_S)
    u50, u95 = percentiles(latencies)
    p50, p95 = percentiles(probe_ms)
    print(
        f"{mode:<8} {clients:>7} {len(updates):>5} / {expected:<5} {u50:>7.0f} / {u95:<7.0f}"
        f" {len(probe_ms):>5} / {len(probe_ms) + len(timeouts):<5} {p50:>7.0f} / {p95:<7.0f} {cpu:>6.1f}"
    )


@pytest.fixture(scope="module")
def viewer(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        user, _ = User.objects.get_or_create(username=USER)
        user.set_password(PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name="viewer"))
        active = Well.objects.filter(status=WellStatus.ACTIVE).count()
    print(f"\nactive wells in the benchmark database: {active:,}")
    return user


def test_polling_against_server_sent_events(viewer):
    print(
        f"\ngunicorn {WORKERS} workers × {THREADS} threads; updates every {EVERY_S:.0f} s; "
        f"{DURATION_S:.0f} s per run; probe GET /alarms/ every {PROBE_EVERY_S} s, timeout {PROBE_TIMEOUT_S:.0f} s"
    )
    print(f"{'mode':<8} {'clients':>7} {'updates got/due':>15} {'update p50/p95 ms':>17} {'probes ok/tried':>15}"
          f" {'probe p50/p95 ms':>17} {'CPU s':>6}")  # fmt: skip
    for mode in ("polling", "sse"):
        for clients in CLIENTS:
            with gunicorn_with_sse() as (base, server):
                run(base, server, mode, clients)
