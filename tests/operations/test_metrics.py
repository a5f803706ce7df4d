"""GET /metrics in one process: what the data path counts, the gauges read from the database (cached), the
bearer token, and a database outage shown as a 0 rather than a failed scrape. Across processes:
test_metrics_multiprocess.py."""

import datetime
import json
import os
import pathlib
import runpy
import socket

import pytest
from celery.signals import task_failure
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from alarms.lifecycle import raise_alarm
from analytics import metrics as analytics_metrics
from analytics.diagnostics import engine
from analytics.diagnostics.findings import Finding
from analytics.models import DiagnosticType
from analytics.rollups import postgres as postgres_rollups
from analytics.rollups import refresh_rollups
from analytics.rollups import timescaledb as timescaledb_rollups
from analytics.tasks import refresh_rollups_task
from operations import metrics, workers
from operations.models import Backup
from telemetry import metrics as ingest_metrics
from telemetry.mqtt_bridge import BridgeCounters
from tests.factories import WellFactory
from tests.operations.processes import PROJECT, samples, value
from tests.telemetry.conftest import reading


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counted:
    """Reads counters before and after: ``counted.delta(name, **labels)``."""

    def __init__(self, *names_and_labels):
        self.before = {key: sample(key[0], **dict(key[1])) for key in names_and_labels}

    def delta(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return sample(name, **labels) - self.before.get(key, 0.0)


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


@pytest.fixture
def scrape(settings):
    """GET /metrics with the gauges read afresh (no cache left by another test)."""
    settings.METRICS_CACHE_SECONDS = 15
    metrics._platform = None

    def _scrape(client=None, **headers):
        response = (client or Client()).get("/metrics", **headers)
        assert response.status_code == 200, response.content[:300]
        return response.content.decode()

    yield _scrape
    metrics._platform = None


# --- The endpoint --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_prometheus_text_that_parses(scrape):
    response = Client().get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(scrape())
    assert found[("esp_database_up", frozenset())] == 1.0
    assert found[("esp_redis_up", frozenset())] == 1.0
    assert ("django_migrations_unapplied_total", frozenset({("connection", "default")})) in found
    # One family per name, never two (the database gauges replace django-prometheus's empty ones).
    text = scrape()
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    assert len(helps) == len(set(helps))


@pytest.mark.django_db
def test_with_a_token_only_the_bearer_gets_metrics(scrape, settings):
    settings.METRICS_TOKEN = "a-long-random-metrics-token"
    refused = Client().get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"esp_" not in refused.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Basic a-long-random-metrics-token").status_code == 401
    assert "esp_database_up 1.0" in scrape(HTTP_AUTHORIZATION="Bearer a-long-random-metrics-token")


# --- Counted on the data path ---------------------------------------------------------------------


@pytest.mark.django_db
def test_http_ingest_is_counted_by_outcome_and_reason_never_by_well(operator_client, well, scrape):
    http = {"source": "http"}
    counted = Counted(
        *(key("esp_ingest_readings_total", outcome=o, **http) for o in ("stored", "duplicate", "invalid")),
        *(key("esp_ingest_rejections_total", reason=r, **http) for r in ("well", "value", "malformed", "too_large")),
        key("esp_ingest_rejections_total", reason="unsupported_media_type", **http),
        key("esp_ingest_batch_readings_count", **http),
        key("esp_ingest_batch_readings_sum", **http),
        key("esp_ingest_duration_seconds_count", **http),
    )
    one = reading()
    assert operator_client.post("/api/v1/telemetry/ingest", one, format="json").status_code == 201
    assert operator_client.post("/api/v1/telemetry/ingest", one, format="json").status_code == 200
    assert operator_client.post("/api/v1/telemetry/ingest", reading("WELL-404"), format="json").status_code == 400
    hours_ago = [timezone.now() - datetime.timedelta(hours=h) for h in (2, 3)]
    bad_batch = {"readings": [reading(time=hours_ago[0]), reading(time=hours_ago[1], flow_rate=-5.0)]}
    assert operator_client.post("/api/v1/telemetry/batch", bad_batch, format="json").status_code == 400
    batch = {"readings": [reading(time=timezone.now() - datetime.timedelta(minutes=m)) for m in (10, 20, 30)]}
    assert operator_client.post("/api/v1/telemetry/batch", batch, format="json").status_code == 201
    assert (
        operator_client.post("/api/v1/telemetry/ingest", b"{not json", content_type="application/json").status_code
        == 400
    )
    assert operator_client.post("/api/v1/telemetry/ingest", "x", content_type="text/csv").status_code == 415

    assert counted.delta("esp_ingest_readings_total", outcome="stored", **http) == 4
    assert counted.delta("esp_ingest_readings_total", outcome="duplicate", **http) == 1
    assert counted.delta("esp_ingest_readings_total", outcome="invalid", **http) == 2  # unknown well, -5 bbl/d
    assert counted.delta("esp_ingest_rejections_total", reason="well", **http) == 1
    assert counted.delta("esp_ingest_rejections_total", reason="value", **http) == 1
    assert counted.delta("esp_ingest_rejections_total", reason="malformed", **http) == 1
    assert counted.delta("esp_ingest_rejections_total", reason="unsupported_media_type", **http) == 1
    assert counted.delta("esp_ingest_batch_readings_count", **http) == 3  # the stored writes: 1 + 1 + 3 readings
    assert counted.delta("esp_ingest_batch_readings_sum", **http) == 5
    assert counted.delta("esp_ingest_duration_seconds_count", **http) == 6  # every request that reached ingest

    text = scrape()
    assert "WELL-001" not in text and "WELL-404" not in text


def test_the_bridge_exports_what_its_counters_gained_and_its_gauges():
    class Bridge:
        counters = BridgeCounters()
        unacknowledged = 0

    counted = Counted(
        key("esp_mqtt_bridge_messages_received_total"),
        key("esp_mqtt_bridge_flushes_total"),
        key("esp_mqtt_bridge_database_errors_total"),
        key("esp_mqtt_bridge_unexpected_errors_total"),
    )
    bridge = Bridge()
    bridge.counters.received, bridge.counters.flushes, bridge.unacknowledged = 5, 2, 3
    ingest_metrics.bridge_alive(bridge)
    ingest_metrics.bridge_alive(bridge)  # nothing new: nothing counted twice
    bridge.counters.received, bridge.counters.database_errors, bridge.unacknowledged = 8, 1, 0
    ingest_metrics.bridge_alive(bridge)
    assert counted.delta("esp_mqtt_bridge_messages_received_total") == 8
    assert counted.delta("esp_mqtt_bridge_flushes_total") == 2
    assert counted.delta("esp_mqtt_bridge_database_errors_total") == 1
    assert counted.delta("esp_mqtt_bridge_unexpected_errors_total") == 0
    assert sample("esp_mqtt_bridge_unacknowledged_messages") == 0
    assert sample("esp_mqtt_bridge_heartbeat_timestamp_seconds") == pytest.approx(timezone.now().timestamp(), abs=60)


@pytest.mark.django_db(transaction=True)  # on TimescaleDB the rollup refresh cannot run inside a transaction
def test_the_analytics_jobs_are_counted(monkeypatch):
    counted = Counted(
        key("esp_rollup_refresh_duration_seconds_count"),
        key("esp_rollup_refresh_failures_total"),
        key("esp_diagnostics_runs_total"),
        key("esp_diagnostics_wells_total", outcome="ok"),
        key("esp_diagnostics_run_duration_seconds_count"),
        key("esp_diagnostics_findings_total", type="gas_lock", severity="critical"),
    )
    refresh_rollups()
    assert sample("esp_rollup_refresh_last_success_timestamp_seconds") == pytest.approx(
        timezone.now().timestamp(), abs=60
    )

    def broken(*args, **kwargs):
        raise RuntimeError("refresh broke")

    monkeypatch.setattr(postgres_rollups, "refresh", broken)
    monkeypatch.setattr(timescaledb_rollups, "refresh", broken)
    with pytest.raises(RuntimeError):
        refresh_rollups()
    assert counted.delta("esp_rollup_refresh_duration_seconds_count") == 2
    assert counted.delta("esp_rollup_refresh_failures_total") == 1

    WellFactory(well_id="WELL-001")
    now = timezone.now()
    found = Finding(
        diagnostic_type=DiagnosticType.GAS_LOCK.value,
        severity="critical",
        confidence=0.9,
        evidence={},
        recommended_action="",
        window_start=now - datetime.timedelta(hours=2),
        window_end=now,
        detected_at=now,
    )
    monkeypatch.setattr(engine, "diagnose", lambda *args: [found])
    engine.run_fleet(now)
    assert counted.delta("esp_diagnostics_runs_total") == 1
    assert counted.delta("esp_diagnostics_wells_total", outcome="ok") == 1
    assert counted.delta("esp_diagnostics_run_duration_seconds_count") == 1
    assert counted.delta("esp_diagnostics_findings_total", type="gas_lock", severity="critical") == 1


def test_a_failed_celery_task_is_counted_by_name():
    counted = Counted(key("esp_celery_task_failures_total", task="analytics.refresh_rollups"))
    task_failure.send(sender=refresh_rollups_task, task_id="t-1", exception=RuntimeError("boom"))
    assert counted.delta("esp_celery_task_failures_total", task="analytics.refresh_rollups") == 1


# --- Read from the database and Redis -----------------------------------------------------------


@pytest.mark.django_db
def test_the_database_gauges_follow_the_fleet_alarms_and_backups(operator_client, scrape, settings):
    now = timezone.now()
    reporting = WellFactory(well_id="WELL-001")
    WellFactory(well_id="WELL-002")  # active, never reported: stale
    WellFactory(well_id="WELL-003", status="shut_in")
    assert operator_client.post("/api/v1/telemetry/ingest", reading("WELL-001", now), format="json").status_code == 201
    raise_alarm(reporting, DiagnosticType.GAS_LOCK, "critical", at=now - datetime.timedelta(minutes=20))
    raise_alarm(reporting, DiagnosticType.HIGH_VIBRATION, "warning", at=now)
    Backup.objects.create(
        started_at=now - datetime.timedelta(minutes=10),
        finished_at=now - datetime.timedelta(minutes=5),
        status="ok",
        file="/srv/backups/a.dump",
        size_bytes=123456,
        duration_s=300.5,
        verified_at=now,
        verification_status="passed",
        restore_s=42.0,
    )

    found = samples(scrape())
    assert value(found, "esp_wells", status="active") == 2
    assert value(found, "esp_wells", status="shut_in") == 1
    assert value(found, "esp_wells_reporting") == 1
    assert value(found, "esp_wells_stale") == 1
    assert value(found, "esp_alarms_open", state="active_unacknowledged", severity="critical") == 1
    assert value(found, "esp_alarms_open", state="active_unacknowledged", severity="warning") == 1
    assert value(found, "esp_alarms_open", state="shelved", severity="critical") == 0
    assert value(found, "esp_alarms_critical_unacknowledged_age_seconds") == pytest.approx(1200, abs=120)
    assert value(found, "esp_notification_deliveries", channel="email", status="pending") is not None
    assert value(found, "esp_backup_last_success_timestamp_seconds") == pytest.approx(now.timestamp() - 300, abs=1)
    assert value(found, "esp_backup_last_size_bytes") == 123456
    assert value(found, "esp_backup_last_duration_seconds") == 300.5
    assert value(found, "esp_backup_last_verification_passed") == 1
    assert value(found, "esp_backup_last_restore_duration_seconds") == 42
    assert value(found, "esp_timeseries_backend_info", backend=connection_backend()) == 1
    assert value(found, "esp_timeseries_retention_seconds") == settings.TELEMETRY_RETENTION_DAYS * 86400
    assert value(found, "esp_celery_queue_length", queue="celery") is not None
    assert all(v == 1 for (name, _), v in found.items() if name == "esp_platform_collector_section_up")


def connection_backend():
    from telemetry.storage import backend

    return backend()


@pytest.mark.django_db
def test_the_database_gauges_are_read_at_most_once_per_cache_period():
    clock = [1000.0]
    collector = metrics.PlatformCollector(ttl=15, clock=lambda: clock[0])
    with CaptureQueriesContext(connection) as first:
        names = {family.name for family in collector.collect()}
    assert "esp_wells" in names and len(first) > 5
    clock[0] += 14
    with CaptureQueriesContext(connection) as cached:
        assert {family.name for family in collector.collect()} == names
    assert len(cached) == 0
    clock[0] += 2
    with CaptureQueriesContext(connection) as again:
        collector.collect()
    assert len(again) > 5
    assert not any("django_migrations" in query["sql"] for query in again)  # re-read every 5 minutes only


@pytest.mark.django_db
def test_a_database_outage_is_a_zero_not_a_failed_scrape(scrape):
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))  # nothing listens: refused
        saved = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = reserved.getsockname()[1]
        try:
            found = samples(scrape())
        finally:
            connection.close()
            connection.settings_dict["PORT"] = saved
    assert value(found, "esp_database_up") == 0
    assert value(found, "esp_platform_collector_section_up", section="database") == 0
    assert value(found, "esp_platform_collector_section_up", section="wells") == 0
    assert value(found, "esp_wells_stale") is None  # unknown, not "0 stale"
    assert value(found, "esp_redis_up") == 1


# --- Process bookkeeping ------------------------------------------------------------------------


def write_metrics_files(directory, pid):
    """A process's metrics files, as prometheus_client writes them."""
    from prometheus_client.mmap_dict import MmapedDict

    for kind in ("counter", "gauge_livesum", "gauge_livemax", "gauge_max"):
        store = MmapedDict(os.path.join(directory, f"{kind}_{pid}.db"))
        store.write_value(json.dumps(["x", "x", {}, "help"]), 1.0, 0.0)
        store.close()


def test_gunicorn_empties_its_folder_at_start_and_drops_a_dead_workers_live_gauges(tmp_path, monkeypatch):
    directory = tmp_path / "web"
    directory.mkdir()
    write_metrics_files(directory, 111)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    config = runpy.run_path(str(PROJECT / "config" / "gunicorn.py"))
    assert config["metrics_directory"] == str(directory)
    config["on_starting"](None)
    assert list(directory.iterdir()) == []

    write_metrics_files(directory, 222)
    write_metrics_files(directory, 333)
    config["child_exit"](None, type("Worker", (), {"pid": 222}))
    assert sorted(path.name for path in directory.iterdir()) == [
        "counter_222.db",  # what it counted still counts
        "counter_333.db",
        "gauge_livemax_333.db",
        "gauge_livesum_333.db",
        "gauge_max_222.db",
        "gauge_max_333.db",
    ]


def test_gunicorn_uses_the_web_folder_under_metrics_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("METRICS_DIR", str(tmp_path))
    config = runpy.run_path(str(PROJECT / "config" / "gunicorn.py"))
    assert config["metrics_directory"] == str(tmp_path / "web")
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "web")


def test_a_celery_worker_empties_its_folder_at_start_and_drops_its_pool_processes_live_gauges(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    write_metrics_files(tmp_path, 444)
    workers.on_worker_init()
    assert list(tmp_path.iterdir()) == []
    write_metrics_files(tmp_path, os.getpid())
    workers.on_worker_process_shutdown()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"counter_{os.getpid()}.db",
        f"gauge_max_{os.getpid()}.db",
    ]


def test_metrics_directories_are_every_process_kind_under_metrics_dir(tmp_path, settings, monkeypatch):
    for kind in ("web", "worker", "mqtt"):
        (tmp_path / kind).mkdir()
    (tmp_path / "stray-file").write_text("")
    settings.METRICS_DIR = str(tmp_path)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "web"))
    assert [pathlib.Path(d).name for d in metrics.multiprocess_directories()] == ["mqtt", "web", "worker"]
    settings.METRICS_DIR = ""
    assert metrics.multiprocess_directories() == [str(tmp_path / "web")]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert metrics.multiprocess_directories() == []


def test_findings_of_a_type_added_later_are_still_counted():
    class Later:
        diagnostic_type, severity = "sand_ingress", "warning"

    before = sample("esp_diagnostics_findings_total", type="sand_ingress", severity="warning")
    analytics_metrics.count_findings([Later()])
    assert sample("esp_diagnostics_findings_total", type="sand_ingress", severity="warning") == before + 1
