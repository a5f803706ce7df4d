"""A real Prometheus (Debian's binary, a free loopback port, storage in a temporary folder) scraping the app
served by gunicorn with a metrics token: a platform metric and every dashboard query read back through
Prometheus's HTTP API without error, and every alert rule evaluated without error."""

import datetime
import shutil
import time

import pytest
import requests
import yaml

from accounts.tokens import issue_tokens
from tests.operations.processes import ServedProcess, database_url, free_port, gunicorn, wait_until
from tests.operations.test_monitoring_configs import PROMETHEUS, dashboard_queries, rules, tool
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scrape-test-metrics-token-0123456789"


class Prometheus(ServedProcess):
    name = "prometheus"
    ready_path = "/-/ready"
    log_tail = 5000

    def __init__(self, folder, scrape_target):
        assert shutil.which("prometheus"), "prometheus is missing: `make prometheus` installs Debian's package"
        shutil.copy(PROMETHEUS / "rules.yml", folder)
        (folder / "metrics_token").write_text(TOKEN)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {
                    "job_name": "esp-web",
                    "authorization": {"type": "Bearer", "credentials_file": "metrics_token"},
                    "static_configs": [{"targets": [scrape_target]}],
                },
                # Without the token /metrics refuses: this target must be down.
                {"job_name": "esp-web-without-token", "static_configs": [{"targets": [scrape_target]}]},
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        checked = tool("promtool", "check", "config", "prometheus.yml", cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self.base = f"http://127.0.0.1:{free_port()}"
        self.start(
            ["prometheus", f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address={self.base.removeprefix('http://')}", "--log.level=warn"],
            cwd=folder,
        )  # fmt: skip

    def api(self, path, **params):
        response = requests.get(f"{self.base}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (params, body)
        return body["data"]

    def query(self, expression):
        return self.api("query", query=expression)["result"]


def test_prometheus_reads_the_platform_metrics_every_dashboard_query_and_every_rule(tmp_path, operator, well):
    with gunicorn(
        {"DATABASE_URL": database_url(), "METRICS_DIR": str(tmp_path / "metrics"), "METRICS_TOKEN": TOKEN}
    ) as server:
        token = issue_tokens(operator).access_token
        ingested = requests.post(
            f"{server.base}/api/v1/telemetry/ingest",
            json=reading("WELL-001", datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert ingested.status_code == 201, ingested.text
        (tmp_path / "prometheus").mkdir()
        prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}")
        try:

            def stored_over_http():
                result = prometheus.query('esp_ingest_readings_total{job="esp-web", source="http", outcome="stored"}')
                return result and float(result[0]["value"][1]) == 1.0

            wait_until(stored_over_http, lambda: f"not scraped: {prometheus.query('up')}\n{prometheus.log()}")

            def up():
                return {sample["metric"]["job"]: sample["value"][1] for sample in prometheus.query("up")}

            wait_until(lambda: len(up()) == 2, lambda: f"not every target scraped yet: {up()}")
            assert up() == {"esp-web": "1", "esp-web-without-token": "0"}
            assert prometheus.query("esp_wells")  # a database-backed gauge too

            now = time.time()
            for _dashboard, _title, expression in dashboard_queries():
                prometheus.api("query", query=expression)  # asserts Prometheus answered "success"
                prometheus.api("query_range", query=expression, start=now - 60, end=now, step=5)

            def every_rule_evaluated():
                groups = prometheus.api("rules")["groups"]
                found = [rule for group in groups for rule in group["rules"]]
                return found and all(not rule["lastEvaluation"].startswith("0001") for rule in found) and found

            evaluated = wait_until(every_rule_evaluated, lambda: f"rules not evaluated:\n{prometheus.log()}")
            failing = {rule["name"]: rule.get("lastError") for rule in evaluated if rule["health"] != "ok"}
            assert failing == {}
            assert len(evaluated) == len(rules())
        finally:
            prometheus.stop()
