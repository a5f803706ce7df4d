"""The dashboards' alarm actions count against the API's write limits: past them the page says so,
429 with Retry-After, and the alarm is left as it was."""

import pytest

from accounts import rate_limits
from alarms.models import AlarmEvent
from tests.dashboards.seed import GAS_LOCK_WELL

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_writes_a_minute(settings, monkeypatch):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "write": {"user": 2, "ip": 10}}
    monkeypatch.setattr(rate_limits.RateLimit, "timer", staticmethod(lambda: 1_800_000_030.0))


@pytest.mark.usefixtures("two_writes_a_minute")
def test_an_operator_past_the_write_limit_gets_a_429_page_and_nothing_is_done(signed_in, operator, fleet):
    client = signed_in(operator)
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client.post(f"/alarms/{alarm.pk}/shelve", {"reason": "crew on site", "hours": 4})
    client.post(f"/alarms/{alarm.pk}/unshelve")
    events = AlarmEvent.objects.filter(alarm=alarm).count()
    refused = client.post(f"/alarms/{alarm.pk}/acknowledge", {"comment": "seen"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    assert "Too many actions" in refused.content.decode()
    assert AlarmEvent.objects.filter(alarm=alarm).count() == events
