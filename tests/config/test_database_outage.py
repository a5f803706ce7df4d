"""A database outage is a 503 in JSON with Retry-After, for devices, integrations and the admin alike.

Both outages are real, not mocked: the connection pointed at a port where no server listens (the
server is down), and the server ending the session under a connected client (restart, failover).
"""

import logging
import socket

import psycopg
import pytest
from django.db import connection

from tests.accounts.auth_calls import login
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def another_session():
    """Opens a second connection to the test database, also while the app's one points at a dead port."""
    settings = dict(connection.settings_dict)
    return lambda: psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"]
    )


def reopen_pool():
    """Closes the connection and its pool (if pooled), so the next connection is made from the settings."""
    connection.close()
    if connection.pool:
        connection.close_pool()


@pytest.fixture
def server_down():
    """Points the connection at a port that refuses connections, for the test; reconnects afterwards.

    With the connection pool on, a request waits for the pool's timeout before its 503; the test
    shortens that wait to a second.
    """
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))  # bound but not listening: connecting is refused at once
        saved = connection.settings_dict["PORT"], connection.settings_dict["OPTIONS"]
        reopen_pool()
        connection.settings_dict["PORT"] = reserved.getsockname()[1]
        if pool := saved[1].get("pool"):
            connection.settings_dict["OPTIONS"] = {**saved[1], "pool": {**pool, "timeout": 1}}
        try:
            yield
        finally:
            reopen_pool()
            connection.settings_dict["PORT"], connection.settings_dict["OPTIONS"] = saved


@pytest.fixture
def session_terminated(another_session):
    """Has the server end this connection's session, as a restart or failover does; reconnects afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with another_session() as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    yield
    connection.close()


@pytest.fixture(params=["server_down", "session_terminated"])
def outage(request):
    """Each way the database goes away."""
    return request.param


def assert_retry_later(response):
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "database is unavailable" in response.json()["detail"]


def test_a_device_ingesting_during_an_outage_is_told_to_retry(request, outage, bearer_client, operator, well, caplog):
    device = bearer_client(operator)  # signed in while the database was up
    request.getfixturevalue(outage)
    with caplog.at_level(logging.ERROR, logger="config.middleware"):
        response = device.post("/api/v1/telemetry/ingest", reading(), format="json")
    assert_retry_later(response)
    assert "Database unavailable; answered 503 to POST /api/v1/telemetry/ingest" in caplog.text


def test_nothing_is_stored_by_a_request_the_outage_cut_short(request, outage, operator_client, well, another_session):
    request.getfixturevalue(outage)
    assert_retry_later(operator_client.post("/api/v1/telemetry/batch", {"readings": [reading()]}, format="json"))
    with another_session() as other, other.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize("url", ["/api/v1/wells/", "/api/v1/analytics/overview"])
def test_api_reads_during_an_outage_are_503(request, outage, viewer_client, url):
    request.getfixturevalue(outage)
    assert_retry_later(viewer_client.get(url))


def test_signing_in_during_an_outage_is_503(request, outage, viewer):
    request.getfixturevalue(outage)
    assert_retry_later(login(viewer.username))


def test_the_admin_during_an_outage_is_503(request, outage, staff_client):
    request.getfixturevalue(outage)
    assert_retry_later(staff_client.get("/admin/"))
