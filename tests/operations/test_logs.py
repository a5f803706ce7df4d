"""Logs: JSON lines outside DEBUG with the request id, user and well; no password or token ever written."""

import datetime
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from config.logging import JsonFormatter, RequestContextFilter, redact
from tests.accounts.auth_calls import bearer, login
from tests.factories import TEST_PASSWORD, UserFactory, WellFactory

PROJECT = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = "not-the-right-one-Xq7"


@pytest.fixture
def captured_logs():
    """Everything any logger writes, at DEBUG, through the platform's JSON formatter and filter; a function
    returning the lines written so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: stream.getvalue().splitlines()
    root.removeHandler(handler)
    root.setLevel(level)


def a_reading(minutes_ago=1):
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes_ago)
    return {"well_id": "WELL-001", "timestamp": moment.isoformat(), "flow_rate": 1000.0, "pip": 1200.0,
            "motor_current": 47.0}  # fmt: skip


@pytest.mark.django_db
def test_a_sign_in_and_an_ingest_write_no_password_and_no_token_to_the_logs(captured_logs):
    WellFactory(well_id="WELL-001")
    UserFactory(username="omar_operator", role="operator")  # (factory_boy's own DEBUG lines show the password)
    setup_lines = len(captured_logs())
    assert login("omar_operator", password=WRONG_PASSWORD).status_code == 401
    tokens = login("omar_operator").json()
    client = APIClient()
    client.credentials(**bearer(tokens["access_token"]))
    assert client.post("/api/v1/telemetry/ingest", a_reading(), format="json").status_code == 201
    batch = {"readings": [a_reading(2), a_reading(3)]}
    assert client.post("/api/v1/telemetry/batch", batch, format="json").status_code == 201
    refreshed = APIClient().post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refreshed.status_code == 200

    lines = captured_logs()[setup_lines:]
    text = "\n".join(lines)
    secrets = {
        "password": TEST_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "rotated refresh token": refreshed.json()["refresh_token"],
        "new access token": refreshed.json()["access_token"],
    }
    for name, secret in secrets.items():
        for part in {secret, *secret.split(".")}:  # a JWT's signature alone is a secret too
            assert part not in text, f"the {name} is in the logs"
    records = [json.loads(line) for line in lines]
    requests = [r for r in records if r["logger"] == "esp.request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/api/v1/auth/login", 401),
        ("POST", "/api/v1/auth/login", 200),
        ("POST", "/api/v1/telemetry/ingest", 201),
        ("POST", "/api/v1/telemetry/batch", 201),
        ("POST", "/api/v1/auth/refresh", 200),
    ]
    assert [r["user"] for r in requests[2:4]] == ["omar_operator", "omar_operator"]
    assert all(r["request_id"] and r["duration_ms"] >= 0 for r in requests)
    # The other lines about a request carry its id: the audit trail's, and Django's own warning about the 401.
    refused, sign_in = requests[0]["request_id"], requests[1]["request_id"]
    assert {(r["logger"], r["request_id"]) for r in records if r["logger"] != "esp.request"} >= {
        ("accounts.audit", refused),
        ("django.request", refused),
        ("accounts.audit", sign_in),
    }


@pytest.mark.django_db
def test_it_echoes_the_callers_request_id_and_makes_one_when_there_is_none(viewer_client, captured_logs):
    given = viewer_client.get("/api/v1/wells/", HTTP_X_REQUEST_ID="lb-7f3a.42")
    made = viewer_client.get("/api/v1/wells/")
    hostile = viewer_client.get("/api/v1/wells/", HTTP_X_REQUEST_ID='x" injected\nline')

    assert given["X-Request-ID"] == "lb-7f3a.42"
    assert len(made["X-Request-ID"]) == 32
    assert hostile["X-Request-ID"] != 'x" injected\nline' and len(hostile["X-Request-ID"]) == 32
    logged = [json.loads(line)["request_id"] for line in captured_logs() if '"esp.request"' in line]
    assert logged == [given["X-Request-ID"], made["X-Request-ID"], hostile["X-Request-ID"]]


@pytest.mark.django_db
def test_a_request_about_a_well_logs_the_well_and_the_user(viewer_client, viewer, well, captured_logs):
    response = viewer_client.get(f"/api/v1/analytics/telemetry/hourly/{well.well_id}")
    assert response.status_code == 200
    (line,) = [json.loads(line) for line in captured_logs() if '"esp.request"' in line]
    assert line["well"] == "WELL-001"
    assert line["user"] == viewer.username
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "INFO" and line["time"].endswith("Z")


@pytest.mark.django_db
def test_a_secret_logged_by_mistake_is_redacted(viewer_client, captured_logs):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
    logging.getLogger("esp.careless").warning(
        "calling %s with Authorization: Bearer %s password=%s", "postgres://esp:s3cr3t-pw@db:5432/esp", token, "pw1"
    )
    try:
        raise ValueError(f'bad login {{"password": "hunter2-secret", "token": "{token}"}}')
    except ValueError:
        logging.getLogger("esp.careless").exception("failed")
    text = "\n".join(captured_logs())
    for secret in ("s3cr3t-pw", "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw", "pw1", "hunter2-secret"):
        assert secret not in text
    first, second = (json.loads(line) for line in captured_logs())
    assert first["message"] == (
        "calling postgres://esp:[redacted]@db:5432/esp with Authorization: Bearer [redacted] password=[redacted]"
    )
    assert "ValueError" in second["exception"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [redacted]"),
        ("{'HTTP_AUTHORIZATION': 'Basic b21hcjpodW50ZXIy'}", "{'HTTP_AUTHORIZATION': 'Basic [redacted]'}"),
        ('{"password": "p@ss word", "username": "omar"}', '{"password": [redacted], "username": "omar"}'),
        ("refresh_token=eyJhbGciOi.eyJzdWIi.sig&x=1", "refresh_token=[redacted]&x=1"),
        ("redis://:hunter2@redis:6379/0", "redis://:[redacted]@redis:6379/0"),
        ("GET http://127.0.0.1:8000/api/v1/wells/", None),
        ("mqtt://esp-platform-bridge:Zx9_pw@mosquitto:1883", "mqtt://esp-platform-bridge:[redacted]@mosquitto:1883"),
        ("auth event token_revoked username='omar' details={'refresh_tokens': 2}", None),
        ("auth event password_changed username='omar'", None),
    ],
)
def test_redact_removes_secrets_and_leaves_the_rest(text, expected):
    assert redact(text) == (text if expected is None else expected)


def test_outside_debug_every_process_logs_one_json_object_per_line():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "production-like-secret-value-for-tests-0123456789x",
        "ALLOWED_HOSTS": "esp.example.com",
    }
    env.pop("LOG_FORMAT", None)
    script = "import django, logging; django.setup(); logging.getLogger('esp.demo').warning('pump %s', 'ok')"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert {key: line[key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING",
        "logger": "esp.demo",
        "message": "pump ok",
        "request_id": None,
    }
