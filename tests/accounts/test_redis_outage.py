"""The API without Redis: refused or frozen, it neither blocks sign-in, ingest and reads, nor brings a
logged-out token back, and the sign-in throttle still limits guessing."""

import contextlib
import datetime
import json
import socket
import threading

import pytest
from rest_framework.test import APIClient

from accounts import throttling
from tests.accounts.auth_calls import bearer, login, logout, me
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db


def redis_at(settings, port):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"},
    }


@pytest.fixture
def in_process_counts(monkeypatch):
    """Fresh in-memory throttle counts, and Redis asked again at most once an hour once it fails."""
    throttling._in_process.clear()
    monkeypatch.setattr(throttling, "_redis_unavailable_until", 0.0)
    monkeypatch.setattr(throttling, "REDIS_RETRY_AFTER_S", 3600.0)
    yield
    throttling._in_process.clear()


@pytest.fixture
def redis_refused(settings, in_process_counts):
    """The cache points at a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redis_at(settings, port)


class FrozenRedis:
    """A server that accepts connections and never answers, like a Redis stopped with SIGSTOP."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                self.connections.append(self.server.accept()[0])
                self.accepted.set()

    def close(self):
        self.server.close()
        for held in self.connections:
            held.close()


@pytest.fixture
def frozen_redis(settings, in_process_counts):
    frozen = FrozenRedis()
    redis_at(settings, frozen.port)
    yield frozen
    frozen.close()


@pytest.mark.usefixtures("redis_refused")
def test_sign_in_ingest_analytics_and_logout_work_without_redis(operator, well):
    tokens = login("omar_operator").json()
    client = APIClient()
    client.credentials(**bearer(tokens["access_token"]))

    now = datetime.datetime.now(datetime.UTC)
    readings = [reading("WELL-001", now - datetime.timedelta(minutes=minutes)) for minutes in (1, 2, 3)]
    response = client.post(
        "/api/v1/telemetry/batch", json.dumps({"readings": readings}), content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["inserted"] == 3

    response = client.get("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": 2})
    assert response.status_code == 200
    assert sum(row["reading_count"] for row in response.json()["data"]) == 3

    assert logout(tokens).status_code == 204
    assert me(tokens["access_token"]).status_code == 401


@pytest.mark.usefixtures("redis_refused")
def test_without_redis_guessing_is_still_locked_after_five_refusals(viewer):
    statuses = [login("vera_viewer", "wrong-guess-0000").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_a_frozen_redis_is_waited_for_once_not_on_every_sign_in(frozen_redis, viewer):
    statuses = [login("vera_viewer").status_code for _ in range(5)]
    assert statuses == [200] * 5
    # One connection timed out; from then on the throttle counted in memory without asking Redis.
    assert frozen_redis.accepted.wait(5)
    assert len(frozen_redis.connections) == 1
