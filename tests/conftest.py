"""Fixtures shared by every test: role users and API clients signed in as them; the timescaledb marker."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from telemetry import storage
from tests.factories import TEST_PASSWORD, UserFactory, WellFactory

NEEDS_TIMESCALEDB = (
    "needs the TimescaleDB backend; this test database was built on plain PostgreSQL (TimescaleDB is not "
    "installed and preloaded on this server, or TIMESERIES_BACKEND=postgres)"
)


def readings_backend(request):
    """'timescaledb' or 'postgres': what the test database's readings table was built on."""
    request.getfixturevalue("django_db_setup")
    with request.getfixturevalue("django_db_blocker").unblock():
        return storage.backend()


@pytest.fixture(autouse=True)
def _skip_unless_timescaledb(request):
    if request.node.get_closest_marker("timescaledb") and readings_backend(request) != storage.TIMESCALEDB:
        pytest.skip(NEEDS_TIMESCALEDB)


# Pauses every scheduled policy job (not the telemetry reporter) in TimescaleDB's scheduler; returns their ids.
PAUSE_POLICY_JOBS = """
WITH policy AS MATERIALIZED (
    SELECT job_id FROM timescaledb_information.jobs
    WHERE scheduled AND proc_schema = '_timescaledb_functions' AND proc_name <> 'policy_telemetry'
)
SELECT policy.job_id FROM policy, alter_job(policy.job_id, scheduled => false)
"""
# Resumes those of the paused jobs that still exist (re-applying a policy replaces its job).
RESUME_POLICY_JOBS = """
SELECT alter_job(job_id, scheduled => true) FROM timescaledb_information.jobs WHERE job_id = ANY(%s)
"""


@pytest.fixture
def scheduler_paused(db):
    """TimescaleDB's scheduler leaves the policy jobs alone during the test, so only the platform runs them
    (its runs are then the newest, whatever the scheduler would have done); resumed afterwards."""
    with connection.cursor() as cursor:
        cursor.execute(PAUSE_POLICY_JOBS)
        paused = [job_id for (job_id,) in cursor.fetchall()]
    yield
    with connection.cursor() as cursor:
        cursor.execute(RESUME_POLICY_JOBS, [paused])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a run against TimescaleDB (TIMESERIES_BACKEND=timescaledb, as `make test-timescaledb` sets), a
    skipped test marked timescaledb is a failure: the TimescaleDB path was not checked."""
    report = yield
    if report.skipped and item.get_closest_marker("timescaledb") and settings.TIMESERIES_BACKEND == "timescaledb":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped on a run against TimescaleDB (TIMESERIES_BACKEND=timescaledb): {reason}"
    return report


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is the production hasher; tests don't need its deliberate slowness.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty Redis cache (throttles, token denylist)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera_viewer", role="viewer")


@pytest.fixture
def operator(db):
    return UserFactory(username="omar_operator", role="operator")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada_admin", role="admin")


@pytest.fixture
def anonymous_client():
    return APIClient()


def _client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def operator_client(operator):
    return _client_for(operator)


@pytest.fixture
def admin_client_api(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def sign_in(db):
    """Signs a user in through POST /api/v1/auth/login and returns the response body (real tokens)."""

    def _sign_in(user, password=TEST_PASSWORD):
        response = APIClient().post(
            "/api/v1/auth/login", {"username": user.username, "password": password}, format="json"
        )
        assert response.status_code == 200, response.json()
        return response.json()

    return _sign_in


@pytest.fixture
def bearer_client(sign_in):
    """An API client for ``user`` that sends a real access token, as integrations do."""

    def _bearer_client(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {sign_in(user)['access_token']}")
        return client

    return _bearer_client


@pytest.fixture
def staff_client(client, db):
    """A browser session of a superuser, for Django admin pages."""
    engineer = User.objects.create_superuser("engineer", password="a-long-enough-password-1")
    client.force_login(engineer)
    return client


@pytest.fixture
def well(db):
    return WellFactory(well_id="WELL-001", name="Ghawar North 1")
