"""API rate limits per signed-in user and per client IP, by scope (reads, writes, ingest): past a limit
the caller gets 429 with Retry-After and the API's error body; the next window lets them in again. A
moved clock stands in for waiting."""

import datetime

import pytest
from rest_framework.test import APIClient

from accounts import rate_limits
from tests.api_error_body import check_error_body
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db

WELLS_URL = "/api/v1/wells/"
INGEST_URL = "/api/v1/telemetry/ingest"
HOUR_AGO = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(hours=1)


class Clock:
    def __init__(self, now=1_800_000_000.0):  # a window start: 1_800_000_000 is a multiple of 60
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rate_limits.RateLimit, "timer", staticmethod(clock))
    return clock


@pytest.fixture
def low_limits(settings):
    settings.API_RATE_LIMITS = {
        "read": {"user": 3, "ip": 5},
        "write": {"user": 2, "ip": 4},
        "ingest": {"user": 3, "ip": 6},
    }
    return settings.API_RATE_LIMITS


def calls(client, n, url=WELLS_URL, **meta):
    return [client.get(url, **meta).status_code for _ in range(n)]


@pytest.mark.usefixtures("low_limits")
def test_a_user_past_the_read_limit_gets_429_with_retry_after_until_the_window_ends(viewer_client, clock):
    clock.now += 45  # 15 s left in this window
    assert calls(viewer_client, 3) == [200, 200, 200]
    refused = viewer_client.get(WELLS_URL)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "15"
    clock.now += 15
    assert viewer_client.get(WELLS_URL).status_code == 200
    check_error_body(refused)


@pytest.mark.usefixtures("low_limits")
def test_reads_and_writes_are_counted_apart(operator_client, clock):
    assert calls(operator_client, 3) == [200, 200, 200]
    assert operator_client.post(WELLS_URL, {}, format="json").status_code == 400  # counted as a write
    assert operator_client.get(WELLS_URL).status_code == 429


@pytest.mark.usefixtures("low_limits")
def test_one_user_over_the_limit_does_not_hold_back_another(viewer_client, operator_client, clock):
    calls(viewer_client, 3)
    assert viewer_client.get(WELLS_URL).status_code == 429
    assert operator_client.get(WELLS_URL).status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_callers_from_one_ip_share_its_limit(viewer_client, operator_client, admin_client_api, clock):
    assert calls(viewer_client, 3) + calls(operator_client, 2) == [200] * 5
    assert operator_client.get(WELLS_URL).status_code == 429  # the IP's 5, though the operator used only 2
    assert admin_client_api.get(WELLS_URL, REMOTE_ADDR="10.0.0.9").status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_anonymous_callers_are_limited_by_ip(clock):
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/refresh", {"refresh_token": "x"}, format="json").status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]


def test_health_is_never_limited(clock, low_limits):
    client = APIClient()
    assert calls(client, 10, url="/health") == [200] * 10


def test_a_device_posting_every_five_seconds_never_meets_the_ingest_limit(operator_client, clock, well):
    """With the shipped limits: a device posting a reading every 5 s for three minutes."""
    statuses = set()
    for step in range(36):
        clock.now += 5
        body = reading(well.well_id, time=HOUR_AGO + datetime.timedelta(seconds=5 * step))
        statuses.add(operator_client.post(INGEST_URL, body, format="json").status_code)
    assert statuses == {201}


def test_ingest_has_its_own_limit_sized_for_fleets(settings):
    limits = settings.API_RATE_LIMITS
    # One token carrying 2,000 devices, each posting every 10 s: 12,000 a minute.
    assert limits["ingest"]["user"] >= 2_000 * 6
    assert limits["ingest"]["ip"] >= limits["ingest"]["user"]
    assert limits["read"]["user"] <= limits["read"]["ip"] and limits["write"]["user"] <= limits["write"]["ip"]


@pytest.mark.usefixtures("low_limits")
def test_ingest_past_its_limit_is_a_429(operator_client, clock, well):
    statuses = []
    for second in range(4):
        body = reading(well.well_id, time=HOUR_AGO + datetime.timedelta(seconds=second))
        statuses.append(operator_client.post(INGEST_URL, body, format="json").status_code)
    assert statuses == [201, 201, 201, 429]
