"""Who reaches which dashboard and who may act on alarms: the server decides, whatever a page shows."""

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from accounts.models import ChangeEvent
from accounts.roles import Role
from alarms.models import AlarmEvent, AlarmEventKind, AlarmState
from dashboards import urls as dashboard_urls
from dashboards.csp import CONTENT_SECURITY_POLICY
from tests.dashboards.seed import GAS_LOCK_WELL

pytestmark = pytest.mark.django_db

PAGES = ["/", f"/wells/{GAS_LOCK_WELL}/", "/alarms/", "/rankings/", f"/wells/{GAS_LOCK_WELL}/charts.json?range=24h"]


def _action(alarm, verb):
    return reverse(f"dashboards:alarm-{verb}", args=[alarm.pk])


@pytest.mark.parametrize("path", PAGES)
def test_it_sends_a_visitor_without_a_session_to_sign_in(client, fleet, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", PAGES)
def test_it_refuses_an_account_without_a_role(signed_in, roleless, fleet, path):
    response = signed_in(roleless).get(path)
    assert response.status_code == 403
    assert b"no platform role" in response.content


@pytest.mark.parametrize("path", PAGES)
def test_it_shows_every_page_to_a_viewer(signed_in, viewer, fleet, path):
    assert signed_in(viewer).get(path).status_code == 200


def test_every_view_names_the_role_it_needs():
    needs = {}
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        needs[pattern.name] = getattr(pattern.callback, "required_role", None)
    assert needs.pop("login") is None and needs.pop("logout") is None
    acting = {name: role for name, role in needs.items() if name.startswith("alarm-")}
    assert acting == dict.fromkeys(["alarm-acknowledge", "alarm-shelve", "alarm-unshelve"], Role.OPERATOR)
    assert {role for name, role in needs.items() if name not in acting} == {Role.VIEWER}


@pytest.mark.parametrize("path", [*PAGES, "/login", "/alarms/1/acknowledge"])
def test_every_answer_carries_the_content_security_policy(signed_in, viewer, fleet, path):
    response = signed_in(viewer).get(path) if path != "/alarms/1/acknowledge" else signed_in(viewer).post(path)
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_a_viewer_sees_no_action_button_and_is_refused_when_posting_anyway(signed_in, viewer, fleet):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client = signed_in(viewer)
    for path in (f"/wells/{GAS_LOCK_WELL}/", "/alarms/"):
        page = client.get(path).content.decode()
        assert "Gas lock" in page
        assert 'data-action="acknowledge"' not in page and 'data-action="shelve"' not in page
        assert "<summary>Shelve" not in page
    for verb, data in (("acknowledge", {}), ("shelve", {"reason": "testing", "hours": 1}), ("unshelve", {})):
        response = client.post(_action(alarm, verb), data)
        assert response.status_code == 403
        assert b"operator" in response.content
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED
    assert not AlarmEvent.objects.filter(alarm=alarm, actor__isnull=False).exists()


def test_an_operator_acknowledges_an_alarm_from_the_well_page(signed_in, operator, fleet):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client = signed_in(operator)
    page = client.get(f"/wells/{GAS_LOCK_WELL}/").content.decode()
    assert 'data-action="acknowledge"' in page
    response = client.post(_action(alarm, "acknowledge"), {"next": f"/wells/{GAS_LOCK_WELL}/"}, follow=True)
    assert response.redirect_chain == [(f"/wells/{GAS_LOCK_WELL}/", 302)]
    assert "Gas lock on WELL-003 acknowledged." in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_ACKNOWLEDGED and alarm.acknowledged_by == operator
    assert AlarmEvent.objects.get(alarm=alarm, kind=AlarmEventKind.ACKNOWLEDGED).actor == operator
    # The change audit trail has the person's action, from the dashboards, and not the machine's raising of it.
    (audited,) = ChangeEvent.objects.filter(model="alarms.alarm", object_id=str(alarm.pk))
    assert (audited.action, audited.via, audited.actor_username) == ("changed", "dashboard", operator.username)
    assert audited.before["state"] == AlarmState.ACTIVE_UNACKNOWLEDGED
    assert audited.after["state"] == AlarmState.ACTIVE_ACKNOWLEDGED


def test_acknowledging_an_acknowledged_alarm_says_why_and_changes_nothing(signed_in, operator, fleet):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client = signed_in(operator)
    client.post(_action(alarm, "acknowledge"))
    response = client.post(_action(alarm, "acknowledge"), follow=True)
    assert "already acknowledged" in response.content.decode()
    assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEventKind.ACKNOWLEDGED).count() == 1


def test_an_operator_shelves_an_alarm_with_a_reason_then_unshelves_it(signed_in, operator, fleet):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client = signed_in(operator)
    response = client.post(_action(alarm, "shelve"), {"reason": "Workover crew on site", "hours": 4}, follow=True)
    assert "shelved for 4 h" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.SHELVED and alarm.shelve_reason == "Workover crew on site"
    assert 3.9 * 3600 < (alarm.shelved_until - alarm.shelved_at).total_seconds() <= 4 * 3600
    page = client.get("/alarms/?state=shelved").content.decode()
    assert 'data-action="unshelve"' in page and "Workover crew on site" in page
    client.post(_action(alarm, "unshelve"))
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_shelving_without_a_reason_or_beyond_the_limit_changes_nothing(signed_in, operator, fleet, settings):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    client = signed_in(operator)
    no_reason = client.post(_action(alarm, "shelve"), {"reason": "  ", "hours": 4}, follow=True)
    assert "was not shelved" in no_reason.content.decode()
    too_long = client.post(_action(alarm, "shelve"), {"reason": "why not", "hours": 10_000}, follow=True)
    assert "was not shelved" in too_long.content.decode()
    alarm.refresh_from_db()
    assert alarm.shelved_until is None


def test_forms_are_refused_without_the_csrf_token(operator, fleet):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    alarm = fleet.alarms[GAS_LOCK_WELL]
    assert client.post(_action(alarm, "acknowledge")).status_code == 403
    assert client.post("/logout").status_code == 403
    alarm.refresh_from_db()
    assert not alarm.acknowledged


def test_it_returns_only_to_pages_of_this_site(signed_in, operator, fleet):
    alarm = fleet.alarms[GAS_LOCK_WELL]
    response = signed_in(operator).post(_action(alarm, "acknowledge"), {"next": "https://elsewhere.example/"})
    assert response["Location"] == "/alarms/"


def test_reading_pages_refuse_other_methods(signed_in, viewer, fleet):
    assert signed_in(viewer).post("/").status_code == 405
