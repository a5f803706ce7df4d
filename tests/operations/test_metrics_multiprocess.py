"""Metrics across processes, for real: gunicorn with two workers (config/gunicorn.py), the MQTT bridge
(``manage.py mqtt_ingest``) and a Celery worker, each writing to its own folder under METRICS_DIR, and the
web's /metrics adding them all up, whichever worker answers the scrape."""

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid

import paho.mqtt.client as mqtt
import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.tokens import issue_tokens
from config.celery import app as celery_app
from operations.workers import heartbeat_key, redis_client
from tests.operations.processes import PROJECT, database_url, gunicorn, value, wait_until
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db(transaction=True)

STORED_HTTP = {"source": "http", "outcome": "stored"}

# A metrics file left by an earlier run: 1,000 readings stored over HTTP, 7 failed tasks. Wiping the folder
# at start is what keeps them out of this run's counts.
SEED = """
import sys
from prometheus_client import Counter
from telemetry import metrics
metrics.ingested("http", 1000, 1000)
Counter("esp_celery_task_failures", "", ["task"]).labels("accounts.delete_expired_logouts").inc(7)
"""


def seed_stale_counts(directory):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", SEED],
        cwd=PROJECT,
        env={"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": os.environ["PATH"]},
        check=True,
    )
    files = list(directory.glob("*.db"))
    assert files
    return files


def stored_by_pid(directory):
    """{pid: readings stored over HTTP} from each worker's own counter file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "esp_ingest_readings_total" and sample.labels == STORED_HTTP:
                    counts[int(path.stem.split("_")[1])] = sample.value
    return counts


def post_readings(server, token, count, first_minute):
    """``count`` single readings, each on a new connection (so the workers share them)."""
    for minute in range(first_minute, first_minute + count):
        time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minute)
        response = requests.post(
            f"{server.base}/api/v1/telemetry/ingest",
            json=reading("WELL-001", time),
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=30,
        )
        assert response.status_code == 201, response.text


def test_counts_add_up_across_workers_and_outlive_a_killed_worker(tmp_path, operator, well):
    metrics_dir = tmp_path / "metrics"
    web = metrics_dir / "web"
    stale = seed_stale_counts(web)
    token = issue_tokens(operator).access_token
    with gunicorn({"DATABASE_URL": database_url(), "METRICS_DIR": str(metrics_dir)}, workers=2, threads=1) as server:
        assert not any(path.exists() for path in stale)  # emptied when gunicorn started
        post_readings(server, token, 20, first_minute=1)
        counted = stored_by_pid(web)
        assert sum(counted.values()) == 20, counted
        victim = max(counted, key=counted.get)  # the worker that stored the most (at least 10)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: victim not in server.workers() and len(server.workers()) == 2,
            lambda: f"gunicorn did not replace worker {victim}: {server.workers()}\n{server.log()}",
        )
        post_readings(server, token, 20, first_minute=30)

        text = server.get("/metrics").text
        assert value(text, "esp_ingest_readings_total", **STORED_HTTP) == 40
        assert value(text, "esp_ingest_batch_readings_count", source="http") == 40
        requests_by_view = value(
            text, "django_http_requests_total_by_view_transport_method_total",
            view="telemetry-ingest", method="POST", transport="http",
        )  # fmt: skip
        assert requests_by_view == 40
        counted = stored_by_pid(web)
        assert sum(counted.values()) == 40
        assert len([pid for pid, n in counted.items() if n]) >= 2  # the dead worker's and the others'
        assert (web / f"counter_{victim}.db").exists()  # what it counted still counts
        assert not list(web.glob(f"gauge_live*_{victim}.db"))  # its live gauges were dropped (child_exit)
        assert len({server.get("/metrics").text.count("esp_ingest_readings_total{") for _ in range(4)}) == 1


@pytest.fixture
def prefix():
    return f"test-metrics-{uuid.uuid4().hex[:12]}"


def publish(prefix, messages):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        infos = [client.publish(f"{prefix}/WELL-001/telemetry", body, qos=1) for body in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


class Process:
    """A platform process (bridge, Celery worker) with its output kept for failure messages."""

    def __init__(self, argv, environment):
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - the process's log, open while it runs
        self.process = subprocess.Popen(
            argv, cwd=PROJECT, env={**os.environ, **environment}, stdout=self.output, stderr=subprocess.STDOUT
        )

    def log(self):
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-5000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return self.process.returncode


def test_the_bridge_and_the_celery_worker_are_counted_by_the_web_and_judged_by_readiness(tmp_path, well, prefix):
    metrics_dir = tmp_path / "metrics"
    seed_stale_counts(metrics_dir / "worker")
    common = {"DATABASE_URL": database_url(), "METRICS_DIR": str(metrics_dir), "DB_CONN_MAX_AGE": "0"}
    redis_client().delete(heartbeat_key())
    celery_app.control.purge()
    bridge = Process(
        [sys.executable, "manage.py", "mqtt_ingest"],
        {
            **common,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "mqtt"),
            "MQTT_TOPIC": f"{prefix}/+/telemetry",
            "MQTT_CLIENT_ID": f"{prefix}-bridge",
            "MQTT_SESSION_EXPIRY_SECONDS": "0",
        },
    )
    worker = Process(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1",
         "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", f"{prefix}@%h"],
        {**common, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "worker")},
    )  # fmt: skip
    try:
        with gunicorn(common) as server:

            def metric(name, **labels):
                return value(server.get("/metrics").text, name, **labels)

            def components():
                return server.get("/health/ready").json()["components"]

            wait_until(
                lambda: components()["mqtt_bridge"]["status"] == "healthy",
                lambda: f"no bridge heartbeat: {components()['mqtt_bridge']}\n{bridge.log()}",
            )
            wait_until(
                lambda: components()["celery_worker"]["status"] == "healthy",
                lambda: f"no worker heartbeat: {components()['celery_worker']}\n{worker.log()}",
            )
            # The worker wiped the stale counts of its folder when it started.
            assert metric("esp_celery_task_failures_total", task="accounts.delete_expired_logouts") == 0

            now = datetime.datetime.now(datetime.UTC)
            messages = [json.dumps(reading("WELL-001", now - datetime.timedelta(minutes=m))) for m in range(1, 6)]
            publish(prefix, [*messages, b"{not json"])
            wait_until(
                lambda: (
                    metric("esp_mqtt_bridge_messages_received_total") == 6
                    and metric("esp_ingest_readings_total", source="mqtt", outcome="stored") == 5
                    and metric("esp_mqtt_bridge_flushes_total") >= 1  # exported at the bridge's next step
                ),
                lambda: f"the bridge's counts did not reach /metrics:\n{bridge.log()}",
            )
            assert metric("esp_ingest_rejections_total", source="mqtt", reason="malformed") == 1

            celery_app.send_task("accounts.delete_expired_logouts", args=[1, 2, 3])  # wrong arguments: fails
            wait_until(
                lambda: metric("esp_celery_task_failures_total", task="accounts.delete_expired_logouts") == 1,
                lambda: f"the worker's failure did not reach /metrics:\n{worker.log()}",
            )

            assert bridge.stop() == 0, bridge.log()
            bridge_check = components()["mqtt_bridge"]
            assert bridge_check["status"] == "degraded"  # a stopped bridge leaves no heartbeat behind
            assert "no MQTT bridge heartbeat" in bridge_check["detail"]
            assert metric("esp_mqtt_bridge_messages_received_total") == 6  # what it counted still counts
    finally:
        bridge.stop()
        worker.stop()
        redis_client().delete(heartbeat_key())
