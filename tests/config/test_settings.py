"""Start-up fails fast, naming the variable, when the environment is wrong."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
# 50 characters: the shortest key Django's deployment check (security.W009) accepts.
PRODUCTION_KEY = "production-like-secret-value-for-tests-0123456789x"
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": PRODUCTION_KEY,
    "ALLOWED_HOSTS": "esp.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://esp.example.com",
}
CONFIG_VARIABLES = {
    *("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "REDIS_URL"),
    *("TIME_ZONE", "ANALYTICS_TIMEZONE", "TIMESERIES_BACKEND", "WHITENOISE_USE_FINDERS"),
    *("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"),
}


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SECRET_KEY", None, "SECRET_KEY must be set"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 50 characters"),
        ("SECRET_KEY", PRODUCTION_KEY[:49], "SECRET_KEY must be at least 50 characters"),
        ("SECRET_KEY", "abcd" * 15, "with at least 5 different characters"),
        ("SECRET_KEY", "django-insecure-" + PRODUCTION_KEY, "not starting with 'django-insecure-'"),
        ("ALLOWED_HOSTS", "", "ALLOWED_HOSTS must list"),
        ("DATABASE_URL", "mysql://root@localhost/esp", "DATABASE_URL must be a URL starting with postgres://"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL"),
        ("TIMESERIES_BACKEND", "influx", "TIMESERIES_BACKEND must be one of auto, timescaledb, postgres"),
        ("ANALYTICS_TIMEZONE", "Riyadh", "ANALYTICS_TIMEZONE must be an IANA time zone"),
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
    ],
)
def test_it_stops_start_up_naming_the_bad_variable(variable, value, message):
    env = dict(PRODUCTION_ENV)
    if value is None:
        env.pop(variable)
    else:
        env[variable] = value
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_it_passes_the_deployment_checklist_with_production_settings():
    assert len(PRODUCTION_KEY) == 50
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr


def test_it_runs_without_a_secret_key_in_debug():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_variable_the_settings_read():
    settings_source = (PROJECT / "config" / "settings.py").read_text()
    read = set(re.findall(r"""env_\w+\(\s*["']([A-Z_]+)["']""", settings_source))
    listed = set(re.findall(r"^([A-Z_]+)=", (PROJECT / ".env.example").read_text(), flags=re.M))
    assert read, "the settings read no variables?"
    assert read - listed == set(), "missing from .env.example"


def test_the_openapi_servers_come_from_api_servers():
    result = manage(
        "spectacular",
        "--format",
        "openapi-json",
        DEBUG="true",
        API_SERVERS="https://esp.example.com, https://dr.example.com",
    )
    assert result.returncode == 0, result.stderr
    servers = json.loads(result.stdout)["servers"]
    assert servers == [{"url": "https://esp.example.com"}, {"url": "https://dr.example.com"}]
