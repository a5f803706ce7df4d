"""`make run SERVICES=embedded`'s path: PostgreSQL and Redis from PyPI wheels (operations/embedded.py),
started, migrated, a reading ingested over the API and read back, and nothing left running."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from operations import embedded

PROJECT = Path(__file__).resolve().parents[2]

# Runs inside the embedded services: a well and an operator, a reading through POST /api/v1/telemetry/ingest
# with a real token, then GET /api/v1/telemetry/readings. Prints the reading it got back.
INGEST_AND_READ_BACK = """
import datetime, json, django
django.setup()
from django.test import Client
from tests.factories import TEST_PASSWORD, UserFactory, WellFactory

WellFactory(well_id="WELL-001")
UserFactory(username="omar", role="operator")
client = Client()
token = client.post("/api/v1/auth/login", {"username": "omar", "password": TEST_PASSWORD},
                    content_type="application/json").json()["access_token"]
auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
moment = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).replace(microsecond=0)
reading = {"well_id": "WELL-001", "timestamp": moment.isoformat(), "flow_rate": 1234.5, "pip": 800.0,
           "motor_current": 41.0}
created = client.post("/api/v1/telemetry/ingest", reading, content_type="application/json", **auth)
assert created.status_code == 201, created.content
read = client.get("/api/v1/telemetry/readings", {"well_id": "WELL-001"}, **auth)
assert read.status_code == 200, read.content
print("READ BACK " + json.dumps(read.json()["readings"]))
"""


@pytest.fixture
def data_dir():
    # Enterable by others: run as root, the embedded PostgreSQL runs as nobody (pytest's tmp_path is 0700).
    directory = Path(tempfile.mkdtemp(prefix="esp-embedded-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def processes_using(directory):
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(directory) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def test_the_embedded_services_migrate_ingest_a_reading_read_it_back_and_stop(data_dir):
    script = f"{sys.executable} manage.py migrate --no-input && {sys.executable} -c '{INGEST_AND_READ_BACK}'"
    # The embedded PostgreSQL has no TimescaleDB, whichever backend this test run targets.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TIMESERIES_BACKEND": "auto"}
    env.pop("SERVICES", None)
    result = subprocess.run(
        [sys.executable, "-m", "operations.embedded", "--services", "embedded", "--data-dir", str(data_dir),
         "--", "bash", "-c", f"{sys.executable} manage.py ensure_database && {script}"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,  # a guard only
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (said,) = [line for line in result.stdout.splitlines() if line.startswith("Services: ")]
    # (The ports are 55432 and 56379 unless something already listens there.)
    assert re.search(rf"PostgreSQL 18\.6 embedded \(127\.0\.0\.1:\d+, data in {data_dir}/postgres\)", said), said
    assert re.search(rf"Redis 6\.2\.14 embedded \(127\.0\.0\.1:\d+, data in {data_dir}/redis\)", said), said
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("READ BACK ")]
    (reading,) = json.loads(line.removeprefix("READ BACK "))
    assert reading["flow_rate"] == 1234.5 and reading["motor_current"] == 41.0
    # Stopped: no process runs from the data folder, PostgreSQL's pid file is gone, the data stays.
    assert processes_using(data_dir) == []
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()
    assert (data_dir / "postgres" / "data" / "PG_VERSION").read_text().strip() == "18"


def test_auto_embeds_only_what_does_not_answer(monkeypatch):
    environ = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/esp_platform",  # nothing listens on port 1
        "REDIS_URL": os.environ["REDIS_URL"],  # the test run's Redis answers
        "MQTT_URL": "mqtt://127.0.0.1:1",
    }
    assert embedded.choose("auto", environ) == {"postgres": "embedded", "redis": "system", "mqtt": "none"}
    assert embedded.choose("embedded", environ) == {"postgres": "embedded", "redis": "embedded", "mqtt": "none"}
    assert embedded.choose("system", environ) == {"postgres": "system", "redis": "system", "mqtt": "none"}


def test_a_taken_port_moves_the_embedded_server_to_the_next_free_one():
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        assert embedded.free_port(taken) > taken
