"""GET /health/ready: each dependency checked with its own deadline, 503 only when this server cannot
serve, plain JSON. Outages are real: a database cluster the test owns is stopped, a port refuses, a
socket accepts and never answers."""

import datetime
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from operations import health, workers
from operations.models import Backup
from tests.operations.processes import PROJECT, gunicorn, manage, throwaway_cluster, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

COMPONENTS = [
    "database",
    "timeseries",
    "redis",
    "celery_worker",
    "celery_beat",
    "rollups",
    "mqtt_bridge",
    "backup",
    "backup_verification",
]


def ready(client=None, **headers):
    response = (client or Client()).get("/health/ready", **headers)
    assert response["Content-Type"] == "application/json"
    return response


@pytest.fixture
def finished_checks():
    """After the test, wait until no readiness check of it is still running (they are single-flight)."""
    yield
    wait_until(
        lambda: all(run.done.is_set() for run in health._running.values()),
        lambda: f"checks still running: {[n for n, r in health._running.items() if not r.done.is_set()]}",
    )


@pytest.fixture
def refusing_port():
    """A port where nothing listens: connecting is refused at once."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield reserved.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def database_at(finished_checks):
    """Points the test's database connection (and its pool, if pooled) at another port for the test;
    reconnects afterwards."""
    saved = connection.settings_dict["PORT"]

    def reopen():
        connection.close()
        if connection.pool:
            connection.close_pool()

    def _point(port):
        reopen()
        connection.settings_dict["PORT"] = port

    yield _point
    reopen()
    connection.settings_dict["PORT"] = saved


def test_it_answers_every_component_with_status_detail_and_latency(finished_checks):
    body = ready().json()
    assert list(body["components"]) == COMPONENTS
    for name, component in body["components"].items():
        assert set(component) == {"status", "detail", "latency_ms"}, name
        assert component["status"] in ("healthy", "degraded", "unhealthy"), name
        assert component["detail"], name
        assert component["latency_ms"] >= 0
    assert body["components"]["database"]["status"] == "healthy"
    assert body["components"]["timeseries"]["status"] == "healthy"
    assert body["components"]["redis"]["status"] == "healthy"
    assert body["status"] in ("healthy", "degraded")


def test_it_is_plain_json_for_a_browser_too(finished_checks):
    response = ready(HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json"
    assert b"<html" not in response.content
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_refused_database_is_503_naming_it_while_liveness_stays_200(database_at, refusing_port, settings):
    settings.READY_CHECK_TIMEOUT_SECONDS = 2
    database_at(refusing_port)
    started = time.monotonic()
    response = ready()
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["components"]["database"]["status"] == "unhealthy"
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{refusing_port}" in body["components"]["database"]["detail"]
    assert elapsed < 2 + 1.5  # the deadline, plus the request's own work on a loaded machine
    assert Client().get("/health").status_code == 200


def test_a_hung_database_cannot_hang_readiness(database_at, silent_port, settings):
    settings.READY_CHECK_TIMEOUT_SECONDS = 1
    database_at(silent_port)
    started = time.monotonic()
    response = ready()
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    database = response.json()["components"]["database"]
    assert database == {"status": "unhealthy", "detail": "no answer within 1 s", "latency_ms": 1000.0}
    assert elapsed < 1 + 1.5
    # Polled again while the first checks still hang (the ones on Django's connection wait until the socket
    # closes; the database check gives up after libpq's connect_timeout): answered at once, nothing new started.
    started = time.monotonic()
    again = ready().json()["components"]
    assert time.monotonic() - started < 1.5
    assert "the previous check" in again["timeseries"]["detail"] and "still waiting" in again["timeseries"]["detail"]
    assert again["timeseries"]["status"] == "unhealthy"
    assert Client().get("/health").status_code == 200


def test_a_hung_check_of_its_own_kind_is_not_started_twice(finished_checks):
    release = threading.Event()
    started = []

    def hangs(now, timeout):
        started.append(now)
        release.wait(30)
        return "finally answered"

    check = health.Check("slow_dependency", hangs, timeout=0.2)
    first = health.readiness([check])
    second = health.readiness([check])
    assert first["components"]["slow_dependency"]["detail"] == "no answer within 0.2 s"
    assert "still waiting" in second["components"]["slow_dependency"]["detail"]
    assert len(started) == 1
    release.set()
    wait_until(lambda: health._running["slow_dependency"].done.is_set(), lambda: "the check never finished")
    assert health.readiness([check])["components"]["slow_dependency"]["status"] == "healthy"


def test_a_refused_redis_is_degraded_not_unhealthy(finished_checks, settings, refusing_port):
    from django_redis import get_redis_connection

    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{refusing_port}/6"}}
    get_redis_connection("default").connection_pool.disconnect()
    response = ready()
    components = response.json()["components"]
    assert components["redis"]["status"] == "degraded"
    assert components["celery_worker"]["status"] == "degraded"
    assert components["database"]["status"] == "healthy"
    assert response.status_code == 200


def test_backups_no_backup_is_degraded_and_a_fresh_verified_one_is_healthy(finished_checks):
    components = ready().json()["components"]
    assert components["backup"] == {**components["backup"], "status": "degraded", "detail": "no backup yet"}
    assert components["backup_verification"]["status"] == "degraded"

    now = timezone.now()
    Backup.objects.create(
        started_at=now - datetime.timedelta(hours=3, minutes=4),
        finished_at=now - datetime.timedelta(hours=3),
        status="ok",
        file="/srv/backups/esp-20261130.dump",
        size_bytes=3 * 1024**3,
        duration_s=240,
        verified_at=now - datetime.timedelta(hours=2),
        verification_status="passed",
        restore_s=300,
    )
    components = ready().json()["components"]
    assert components["backup"]["status"] == "healthy"
    assert "esp-20261130.dump (3.0 GiB, 240 s) finished 3.0 h ago" in components["backup"]["detail"]
    assert components["backup_verification"]["status"] == "healthy"


def test_a_failed_verification_or_an_old_backup_is_degraded(finished_checks, settings):
    now = timezone.now()
    Backup.objects.create(
        started_at=now - datetime.timedelta(hours=30),
        finished_at=now - datetime.timedelta(hours=29),
        status="ok",
        file="/srv/backups/old.dump",
        size_bytes=1000,
        duration_s=60,
        verified_at=now - datetime.timedelta(hours=28),
        verification_status="failed",
        verification_detail="readings checksum differs",
    )
    components = ready().json()["components"]
    assert components["backup"]["status"] == "degraded"
    assert f"(limit {settings.BACKUP_RPO_HOURS} h)" in components["backup"]["detail"]
    assert components["backup_verification"]["status"] == "degraded"
    assert "failed: readings checksum differs" in components["backup_verification"]["detail"]


def test_beat_is_judged_by_its_last_run(finished_checks):
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(
        name="readiness test", task="analytics.refresh_rollups", interval=every_minute, last_run_at=timezone.now()
    )
    assert ready().json()["components"]["celery_beat"]["status"] == "healthy"
    task.last_run_at = timezone.now() - datetime.timedelta(minutes=30)
    task.save()
    beat = ready().json()["components"]["celery_beat"]
    assert beat["status"] == "degraded"
    assert beat["detail"] == "beat last sent a periodic task 30 min ago"


def test_a_worker_is_alive_while_its_heartbeat_is_fresh(finished_checks, monkeypatch):
    class Heart:
        class eventer:
            hostname = "celery@readiness-test"

    workers.redis_client().delete(workers.heartbeat_key())
    assert ready().json()["components"]["celery_worker"]["status"] == "degraded"
    monkeypatch.setattr(workers, "_last_beat", {"at": 0.0})
    workers.on_heartbeat_sent(sender=Heart)  # what Celery's heartbeat_sent signal calls
    assert workers.worker_heartbeats() == {"celery@readiness-test": pytest.approx(time.time(), abs=30)}
    assert ready().json()["components"]["celery_worker"]["status"] == "healthy"
    stale = time.time() - 90.4
    workers.redis_client().hset(workers.heartbeat_key(), "celery@readiness-test", repr(stale))
    worker = ready().json()["components"]["celery_worker"]
    assert worker["status"] == "degraded"
    # 90 s when written; a loaded machine may take a second or more to answer.
    age = re.fullmatch(r"the newest Celery worker heartbeat is (\d+) s old", worker["detail"])
    assert age and 90 <= int(age.group(1)) <= 120, worker["detail"]
    workers.redis_client().delete(workers.heartbeat_key())


BRIDGE_PROCESS = """
import sys
from telemetry.metrics import bridge_alive

class Counters:  # as telemetry.mqtt_bridge.BridgeCounters
    received, flushes, database_errors, unexpected_errors = 3, 1, 0, 0

class Bridge:
    counters = Counters()
    unacknowledged = 0

bridge_alive(Bridge)
print("stepped", flush=True)
sys.stdin.read()  # alive until the test closes our stdin
"""


def test_the_bridge_is_alive_while_its_process_steps(finished_checks, settings, tmp_path):
    """The bridge's heartbeat travels through the shared metrics folder, not through Redis or the database."""
    settings.METRICS_DIR = str(tmp_path)
    assert ready().json()["components"]["mqtt_bridge"]["status"] == "degraded"
    (tmp_path / "mqtt").mkdir()
    bridge = subprocess.Popen(
        [sys.executable, "-c", BRIDGE_PROCESS],
        cwd=PROJECT,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "mqtt"), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bridge.stdout.readline() == "stepped\n"
        bridge_check = ready().json()["components"]["mqtt_bridge"]
        assert bridge_check["status"] == "healthy", bridge_check
        assert bridge_check["detail"].startswith("heartbeat ")
    finally:
        bridge.communicate("")


def test_acceptance_with_the_database_stopped_ready_is_503_within_its_timeout_and_health_is_200(tmp_path):
    """A PostgreSQL cluster of the test's own, migrated, serving a real gunicorn; then stopped."""
    with throwaway_cluster() as cluster:
        # The throwaway cluster is plain PostgreSQL, whichever backend this test run targets.
        environment = {
            "DATABASE_URL": cluster.url("esp_ready"),
            "READY_CHECK_TIMEOUT_SECONDS": "2",
            "TIMESERIES_BACKEND": "auto",
        }
        manage("ensure_database", environment=environment)
        manage("migrate", "--no-input", environment=environment)
        with gunicorn({**environment, "METRICS_DIR": str(tmp_path / "metrics")}) as server:
            before = server.get("/health/ready")
            assert before.json()["components"]["database"]["status"] == "healthy", before.text
            assert before.status_code == 200, before.text

            cluster.stop()
            started = time.monotonic()
            after = server.get("/health/ready")
            elapsed = time.monotonic() - started
            assert after.status_code == 503, after.text
            database = after.json()["components"]["database"]
            assert database["status"] == "unhealthy"
            assert f"cannot connect to PostgreSQL at 127.0.0.1:{cluster.port}/esp_ready" in database["detail"]
            assert elapsed < 2 + 3  # READY_CHECK_TIMEOUT_SECONDS, plus a loaded machine's slack
            assert server.get("/health").status_code == 200
