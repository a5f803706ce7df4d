"""Alarms in the Django admin: what engineers of each role can see and do."""

import pytest
from django.test import Client
from django.utils import timezone

from accounts import users
from accounts.roles import Role
from alarms import lifecycle
from alarms.models import Alarm, AlarmState, OutOfService
from analytics.models import DiagnosticType
from tests.alarms.conftest import minutes, raise_gas_lock
from tests.factories import TEST_PASSWORD, WellFactory

pytestmark = pytest.mark.django_db

ALARMS = "/admin/alarms/alarm/"


@pytest.fixture
def admin_session(db):
    """A browser signed in to the admin as a new user with ``role``, given the way the platform gives roles."""

    def _admin_session(role):
        user = users.create_user(username=f"{role}_engineer", password=TEST_PASSWORD, role=Role[role.upper()])
        browser = Client()
        browser.force_login(user)
        return browser

    return _admin_session


@pytest.fixture
def alarm(well):
    return raise_gas_lock(well, at=timezone.now() - minutes(30)).alarm


def listed(response):
    """The well IDs of the alarms on a changelist page."""
    assert response.status_code == 200
    return {alarm.well.well_id for alarm in response.context["cl"].result_list}


def run_action(browser, action, alarms, **extra):
    return browser.post(ALARMS, {"action": action, "_selected_action": [a.pk for a in alarms], **extra})


def test_it_lists_alarms_with_filters_and_search_by_well(admin_session, alarm):
    other = WellFactory(well_id="WELL-777")
    lifecycle.raise_alarm(other, DiagnosticType.OVERLOAD, "warning", at=timezone.now())
    browser = admin_session("viewer")

    page = browser.get(ALARMS)
    assert listed(page) == {"WELL-001", "WELL-777"}
    for filter_title in ("By state", "By peak severity", "By alarm type", "By well"):
        assert filter_title in page.content.decode()
    assert listed(browser.get(ALARMS, {"q": "WELL-001"})) == {"WELL-001"}
    assert listed(browser.get(ALARMS, {"alarm_type": "gas_lock"})) == {"WELL-001"}
    assert listed(browser.get(ALARMS, {"peak_severity__exact": "warning"})) == {"WELL-777"}
    assert listed(browser.get(ALARMS, {"state__exact": "closed"})) == set()
    assert listed(browser.get(ALARMS, {"well__id__exact": other.pk})) == {"WELL-777"}


def test_it_shows_an_alarm_with_its_history_and_nothing_to_edit(admin_session, alarm):
    page = admin_session("operator").get(f"{ALARMS}{alarm.pk}/change/").content.decode()
    assert "Gas lock" in page and "Raised" in page
    assert 'name="_save"' not in page


def test_it_lets_an_operator_acknowledge_from_the_list(admin_session, alarm):
    response = run_action(admin_session("operator"), "acknowledge_alarms", [alarm])
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_ACKNOWLEDGED
    assert alarm.events.last().actor.username == "operator_engineer"


def test_it_asks_for_a_reason_and_duration_before_shelving(admin_session, alarm):
    browser = admin_session("operator")
    form = run_action(browser, "shelve_alarms", [alarm])
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode() and 'name="hours"' in form.content.decode()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED

    no_reason = run_action(browser, "shelve_alarms", [alarm], apply="1", reason="", hours="4")
    assert no_reason.status_code == 200 and "This field is required." in no_reason.content.decode()
    too_long = run_action(browser, "shelve_alarms", [alarm], apply="1", reason="Known slugging.", hours="100")
    assert too_long.status_code == 200
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED

    done = run_action(browser, "shelve_alarms", [alarm], apply="1", reason="Known slugging.", hours="4")
    assert done.status_code == 302
    alarm.refresh_from_db()
    assert (alarm.state, alarm.shelve_reason) == (AlarmState.SHELVED, "Known slugging.")
    assert abs((alarm.shelved_until - alarm.shelved_at).total_seconds() - 4 * 3600) < 1


def test_it_reports_alarms_an_action_could_not_change(admin_session, alarm):
    browser = admin_session("operator")
    run_action(browser, "acknowledge_alarms", [alarm])
    response = browser.post(ALARMS, {"action": "acknowledge_alarms", "_selected_action": [alarm.pk]}, follow=True)
    assert "Not changed: #" in response.content.decode()
    assert "already acknowledged" in response.content.decode()
    assert alarm.events.filter(kind="acknowledged").count() == 1


def test_it_lets_a_viewer_look_but_not_act(admin_session, alarm):
    browser = admin_session("viewer")
    page = browser.get(ALARMS).content.decode()
    assert "acknowledge_alarms" not in page
    run_action(browser, "acknowledge_alarms", [alarm])
    run_action(browser, "shelve_alarms", [alarm], apply="1", reason="No.", hours="4")
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_it_lets_nobody_add_alarms_and_only_admins_delete_them(admin_session, alarm):
    operator = admin_session("operator")
    assert operator.get(f"{ALARMS}add/").status_code == 403
    assert operator.post(f"{ALARMS}{alarm.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Alarm.objects.filter(pk=alarm.pk).exists()
    assert admin_session("admin").post(f"{ALARMS}{alarm.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Alarm.objects.exists()


def test_it_shows_the_wells_open_alarms_on_its_page(admin_session, well, alarm, operator):
    closed = lifecycle.raise_alarm(well, DiagnosticType.OVERLOAD, "warning", at=timezone.now()).alarm
    closed.clear(operator, now=timezone.now())
    page = admin_session("viewer").get(f"/admin/wells/well/{well.pk}/change/").content.decode()
    assert "Open alarms" in page
    assert f"{ALARMS}{alarm.pk}/change/" in page
    assert f"{ALARMS}{closed.pk}/change/" not in page


def test_it_still_saves_a_well_from_its_page(admin_session, well, alarm):
    body = {
        field: getattr(well, field)
        for field in ("well_id", "name", "field", "install_date", "timezone", "latitude", "longitude", "pump_model",
                      "pump_stages", "rated_flow_bpd", "min_operating_flow_bpd", "max_operating_flow_bpd",
                      "motor_nameplate_current_a", "motor_temp_limit_c", "vibration_limit_mm_s")
    }  # fmt: skip
    response = admin_session("operator").post(f"/admin/wells/well/{well.pk}/change/", {**body, "status": "shut_in"})
    assert response.status_code == 302, response.content.decode()[:2000]
    well.refresh_from_db()
    assert well.status == "shut_in"


def test_it_lets_admins_take_a_well_out_of_service_closing_its_alarms(admin_session, well, alarm):
    add = "/admin/alarms/outofservice/add/"
    body = {"well": well.pk, "alarm_type": "", "reason": "Workover rig on site."}
    assert admin_session("operator").post(add, body).status_code == 403
    assert not OutOfService.objects.exists()

    browser = admin_session("admin")
    assert browser.post(add, {"well": "", "alarm_type": "", "reason": "Nothing chosen."}).status_code == 200
    response = browser.post(add, body)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = OutOfService.objects.get()
    assert (entry.well, entry.created_by.username) == (well, "admin_engineer")
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.CLOSED

    browser.post("/admin/alarms/outofservice/", {"action": "return_to_service", "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert entry.ended_at is not None
