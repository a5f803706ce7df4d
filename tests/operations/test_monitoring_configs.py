"""The monitoring configs in docker/ checked by the real tools (Debian's promtool and amtool, installed by
`make test`), and every metric name they use checked against what the app's /metrics exports."""

import datetime
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from analytics.rollups import refresh_rollups
from operations import metrics as platform_metrics
from tests.operations.processes import PROJECT, samples
from tests.telemetry.conftest import reading

DOCKER = PROJECT / "docker"
PROMETHEUS = DOCKER / "prometheus"
ALERTMANAGER = DOCKER / "alertmanager"
GRAFANA = DOCKER / "grafana"

# Names Prometheus makes itself rather than scraping them.
PROMETHEUS_SYNTHETIC = {"up"}
# Exported only where readings live in TimescaleDB (operations/metrics.py, the timeseries section).
TIMESCALEDB_ONLY = {"esp_timeseries_policy_job_failed", "esp_timeseries_policy_job_last_success_timestamp_seconds"}
# Exported only where readings live in plain PostgreSQL partitions.
POSTGRES_ONLY = {"esp_timeseries_partitions_ahead_days"}

ALERTMANAGER_ENVIRONMENT = {
    "ALERTMANAGER_SMTP_SMARTHOST": "smtp.example.com:587",
    "ALERTMANAGER_SMTP_FROM": "esp-alerts@example.com",
    "ALERTMANAGER_SMTP_USERNAME": "esp-alerts",
    "ALERTMANAGER_SMTP_PASSWORD": "it's a pa$$word with 'quotes' & \\ backslash",
    "ALERTMANAGER_EMAIL_TO": "operations@example.com",
    "ALERTMANAGER_ONCALL_EMAIL_TO": "oncall@example.com",
    "ALERTMANAGER_ONCALL_WEBHOOK_URL": "https://pager.example.com/hooks/esp?token=a1&team=ops",
}


def tool(*argv, cwd=None, env=None):
    """Run one of Debian's Prometheus tools; the result (asserting it exists, with make's way to get it)."""
    assert shutil.which(argv[0]), f"{argv[0]} is missing: `make prometheus` installs Debian's prometheus packages"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def rules():
    return [
        rule for group in yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"] for rule in group["rules"]
    ]


def alerts():
    return [rule for rule in rules() if "alert" in rule]


def dashboards():
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def dashboard_queries():
    return [
        (name, panel["title"], target["expr"])
        for name, dashboard in dashboards().items()
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


# --- Prometheus -----------------------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config(tmp_path):
    shutil.copy(PROMETHEUS / "prometheus.yml", tmp_path)
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "metrics_token").write_text("")  # the secret compose mounts there
    result = tool("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_promtool_accepts_the_rules():
    result = tool("promtool", "check", "rules", "rules.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_alert_unit_tests_pass():
    result = tool("promtool", "test", "rules", "tests.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_not_firing():
    tests = yaml.safe_load((PROMETHEUS / "tests.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    fires = {case["alertname"] for case in cases if case["exp_alerts"]}
    stays_quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    names = {alert["alert"] for alert in alerts()}
    assert names - fires == set(), "alerts never shown firing in tests.yml"
    assert names - stays_quiet == set(), "alerts never shown staying quiet in tests.yml"
    assert (fires | stays_quiet) - names == set(), "tests.yml tests alerts that do not exist"


def test_every_alert_says_how_bad_what_and_why():
    for alert in alerts():
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        assert alert["labels"]["component"], alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
    assert len({alert["alert"] for alert in alerts()}) == len(alerts()), "two alerts share a name"


# --- Alertmanager ---------------------------------------------------------------------------------


@pytest.fixture
def rendered_alertmanager(tmp_path):
    output = tmp_path / "alertmanager.yml"
    result = subprocess.run(
        ["sh", str(ALERTMANAGER / "render-config.sh"), str(ALERTMANAGER / "alertmanager.yml"), str(output)],
        env={"PATH": os.environ["PATH"], **ALERTMANAGER_ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return output


def test_amtool_accepts_the_alertmanager_config_rendered_from_the_environment(rendered_alertmanager):
    result = tool("amtool", "check-config", str(rendered_alertmanager))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(rendered_alertmanager.read_text())
    assert config["global"]["smtp_auth_password"] == ALERTMANAGER_ENVIRONMENT["ALERTMANAGER_SMTP_PASSWORD"]
    oncall = next(receiver for receiver in config["receivers"] if receiver["name"] == "oncall")
    assert oncall["webhook_configs"][0]["url"] == ALERTMANAGER_ENVIRONMENT["ALERTMANAGER_ONCALL_WEBHOOK_URL"]


def test_rendering_stops_naming_a_missing_variable_and_writes_nothing(tmp_path):
    environment = {"PATH": os.environ["PATH"], **ALERTMANAGER_ENVIRONMENT}
    del environment["ALERTMANAGER_ONCALL_WEBHOOK_URL"]
    output = tmp_path / "alertmanager.yml"
    result = subprocess.run(
        ["sh", str(ALERTMANAGER / "render-config.sh"), str(ALERTMANAGER / "alertmanager.yml"), str(output)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "ALERTMANAGER_ONCALL_WEBHOOK_URL is not set" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("severity", "receiver"), [("critical", "oncall"), ("warning", "operations-email")])
def test_alerts_are_routed_by_severity(rendered_alertmanager, severity, receiver):
    assert severity in {alert["labels"]["severity"] for alert in alerts()}
    result = tool(
        "amtool", "config", "routes", "test", f"--config.file={rendered_alertmanager}", f"severity={severity}",
        "alertname=DatabaseDown",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_inhibition_names_alerts_and_components_that_exist(rendered_alertmanager):
    config = yaml.safe_load(rendered_alertmanager.read_text())
    names = {alert["alert"] for alert in alerts()}
    components = {alert["labels"]["component"] for alert in alerts()}
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            label, _, pattern = re.match(r'(\w+)(=~|=)"(.*)"', matcher).groups()
            known = {"alertname": names, "component": components, "severity": {"critical", "warning"}}[label]
            assert set(pattern.split("|")) <= known, matcher


# --- Grafana --------------------------------------------------------------------------------------


def test_grafana_provisions_the_fleet_and_platform_dashboards_on_the_prometheus_source():
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = source["datasources"]
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "esp.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    found = dashboards()
    assert set(found) == {"fleet.json", "platform.json"}
    assert len({dashboard["uid"] for dashboard in found.values()}) == 2
    for name, dashboard in found.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]
                assert "$" not in target["expr"], "queries must run as they are (the scrape test runs them)"


# --- Metric names -------------------------------------------------------------------------------

PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def metric_names(expression):
    """The metric names a PromQL expression reads (functions, keywords, labels and strings left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        word, call = match.groups()
        if not call and word not in PROMQL_WORDS:
            names.add(word)
    return names


def test_the_promql_name_reader_reads_names_only():
    expression = (
        'histogram_quantile(0.95, sum by (le, view) (rate(django_x_bucket{view!~"a|b"}[5m]))) > 1 '
        'and on() max(esp_wells{status="active"}) > 2 * 86400 unless time() - esp_y offset 5m'
    )
    assert metric_names(expression) == {"django_x_bucket", "esp_wells", "esp_y"}


@pytest.fixture
def exercised_exposition(operator_client, well, settings):
    """/metrics after the app has done a little of everything in this process: an HTTP ingest, a rollup
    refresh (hence the transactional test: on TimescaleDB it cannot run inside a transaction), cache
    reads. Counters of other processes (bridge, worker) exist here at 0."""
    settings.METRICS_CACHE_SECONDS = 15
    platform_metrics._platform = None
    now = timezone.now()
    ingested = operator_client.post(
        "/api/v1/telemetry/ingest", reading(time=now - datetime.timedelta(hours=2)), format="json"
    )
    assert ingested.status_code == 201
    refresh_rollups()
    cache.set("metrics-test", 1)
    cache.get("metrics-test")
    cache.get("metrics-test-missing")
    response = Client().get("/metrics")
    platform_metrics._platform = None
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_every_metric_the_rules_and_dashboards_use_is_exported_by_the_app(exercised_exposition):
    exported = {name for name, _ in samples(exercised_exposition)}
    from telemetry.storage import backend

    other_backend = TIMESCALEDB_ONLY if backend() == "postgres" else POSTGRES_ONLY
    source = (PROJECT / "operations" / "metrics.py").read_text()
    assert all(f'"{name}"' in source for name in other_backend)
    used = {}
    for alert in alerts():
        for name in metric_names(alert["expr"]):
            used.setdefault(name, []).append(f"rules.yml {alert['alert']}")
    for dashboard, title, expression in dashboard_queries():
        for name in metric_names(expression):
            used.setdefault(name, []).append(f"{dashboard} {title!r}")
    assert len(used) > 40
    missing = {
        name: where for name, where in used.items() if name not in exported | PROMETHEUS_SYNTHETIC | other_backend
    }
    assert missing == {}, "used by rules or dashboards but not exported by /metrics"
