"""Acting on alarms through the API: every transition by every role, and bad requests refused whole."""

import datetime

import pytest
from django.utils import timezone

from alarms.models import Alarm, AlarmEvent, AlarmState, OutOfService
from analytics.models import DiagnosticType
from tests.alarms.conftest import raise_gas_lock
from tests.api_errors import named_errors
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def alarm(well, now):
    return raise_gas_lock(well, at=now - datetime.timedelta(minutes=10)).alarm


@pytest.fixture
def shelved_alarm(alarm, now):
    alarm.shelve(UserFactory(role="operator"), until=now + HOUR, reason="Known slugging.", now=now)
    return alarm


CLIENT_OF_ROLE = {
    "anonymous": "anonymous_client",
    "viewer": "viewer_client",
    "operator": "operator_client",
    "admin": "admin_client_api",
}


def as_role(request, role):
    """An API client signed in with ``role`` (the conftest fixtures)."""
    return request.getfixturevalue(CLIENT_OF_ROLE[role])


def shelve_body(now):
    return {"reason": "Known gas slugging after the workover.", "until": (now + 2 * HOUR).isoformat()}


TRANSITIONS = [
    # action, fixture of the alarm it needs, body, state after
    ("acknowledge", "alarm", lambda now: {"comment": "Crew on the way."}, AlarmState.ACTIVE_ACKNOWLEDGED),
    ("shelve", "alarm", shelve_body, AlarmState.SHELVED),
    ("unshelve", "shelved_alarm", lambda now: {}, AlarmState.ACTIVE_UNACKNOWLEDGED),
    ("clear", "alarm", lambda now: {"comment": "Sensor replaced."}, AlarmState.CLOSED),
]


@pytest.mark.parametrize(("action", "fixture", "body", "after"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("viewer", 403), ("operator", 200), ("admin", 200)])
def test_it_lets_operators_and_admins_make_each_transition_and_nobody_else(
    request, now, action, fixture, body, after, role, status
):
    target = request.getfixturevalue(fixture)
    before = Alarm.objects.get(pk=target.pk).state
    events = AlarmEvent.objects.count()

    response = as_role(request, role).post(f"/api/v1/alarms/{target.pk}/{action}", body(now), format="json")

    assert response.status_code == status, response.content[:300]
    target.refresh_from_db()
    if status == 200:
        assert response.json()["state"] == target.state == after
        last = response.json()["events"][-1]
        assert (last["kind"], last["from_state"], last["to_state"]) == (
            {"acknowledge": "acknowledged", "shelve": "shelved", "unshelve": "unshelved", "clear": "cleared"}[action],
            before,
            after,
        )
        assert last["actor"] == request.getfixturevalue({"operator": "operator", "admin": "admin_user"}[role]).username
    else:
        assert target.state == before
        assert AlarmEvent.objects.count() == events


def test_it_refuses_to_acknowledge_an_acknowledged_alarm_with_the_reason(operator_client, alarm, now):
    assert operator_client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge", {}, format="json").status_code == 200
    response = operator_client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge", {}, format="json")
    assert response.status_code == 400
    assert "already acknowledged (by omar_operator at" in named_errors(response)["state"][0]
    assert alarm.events.filter(kind="acknowledged").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"until": "+2h"}, "reason", "This field is required."),
        ({"reason": "   ", "until": "+2h"}, "reason", "This field may not be blank."),
        ({"reason": "Known slugging."}, "until", "This field is required."),
        ({"reason": "Known slugging.", "until": "-1m"}, "until", "The shelve's expiry must be in the future."),
        ({"reason": "Known slugging.", "until": "+73h"}, "until", "An alarm can be shelved for at most 72 hours."),
        ({"reason": "Known slugging.", "until": "tomorrow"}, "until", "Datetime has wrong format."),
    ],
    ids=["no reason", "blank reason", "no expiry", "expiry in the past", "expiry too far", "not a time"],
)
def test_it_refuses_a_bad_shelve_naming_the_field_and_changes_nothing(
    operator_client, alarm, now, body, field, message
):
    offsets = {"+2h": 2 * HOUR, "-1m": -datetime.timedelta(minutes=1), "+73h": 73 * HOUR}
    if body.get("until") in offsets:
        body = {**body, "until": (now + offsets[body["until"]]).isoformat()}

    response = operator_client.post(f"/api/v1/alarms/{alarm.pk}/shelve", body, format="json")

    assert response.status_code == 400
    assert named_errors(response)[field][0].startswith(message)
    alarm.refresh_from_db()
    assert (alarm.state, alarm.shelved_until, alarm.events.count()) == (AlarmState.ACTIVE_UNACKNOWLEDGED, None, 1)


def test_it_refuses_to_shelve_a_shelved_alarm_or_unshelve_one_that_is_not(operator_client, alarm, now):
    assert operator_client.post(f"/api/v1/alarms/{alarm.pk}/shelve", shelve_body(now), format="json").status_code == 200
    again = operator_client.post(f"/api/v1/alarms/{alarm.pk}/shelve", shelve_body(now), format="json")
    assert again.status_code == 400
    assert "already shelved" in named_errors(again)["state"][0]
    assert operator_client.post(f"/api/v1/alarms/{alarm.pk}/unshelve", {}, format="json").status_code == 200
    twice = operator_client.post(f"/api/v1/alarms/{alarm.pk}/unshelve", {}, format="json")
    assert (twice.status_code, named_errors(twice)) == (400, {"state": ["This alarm is not shelved."]})


@pytest.mark.parametrize("action", ["acknowledge", "shelve", "unshelve", "clear"])
def test_it_refuses_every_transition_on_a_closed_alarm(operator_client, operator, alarm, now, action):
    alarm.clear(operator, now=now)
    response = operator_client.post(f"/api/v1/alarms/{alarm.pk}/{action}", shelve_body(now), format="json")
    assert response.status_code == 400
    assert "closed" in named_errors(response)["state"][0]


def test_it_answers_404_for_an_unknown_alarm(operator_client):
    assert operator_client.post("/api/v1/alarms/999999/acknowledge", {}, format="json").status_code == 404
    assert operator_client.get("/api/v1/alarms/999999").status_code == 404


def test_it_lets_only_admins_take_a_well_out_of_service(viewer_client, operator_client, admin_client_api, well, alarm):
    body = {"well_id": well.well_id, "reason": "Workover rig on site."}
    assert viewer_client.post("/api/v1/alarms/out-of-service", body, format="json").status_code == 403
    assert operator_client.post("/api/v1/alarms/out-of-service", body, format="json").status_code == 403
    assert not OutOfService.objects.exists()

    response = admin_client_api.post("/api/v1/alarms/out-of-service", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["well_id"] == well.well_id
    assert response.json()["in_force"] is True
    alarm.refresh_from_db()
    assert (alarm.state, alarm.close_reason) == (AlarmState.CLOSED, "out_of_service")

    entry = response.json()["id"]
    for client in (viewer_client, operator_client):
        assert client.get(f"/api/v1/alarms/out-of-service/{entry}").status_code == 200
        assert client.post(f"/api/v1/alarms/out-of-service/{entry}/return-to-service").status_code == 403
    back = admin_client_api.post(f"/api/v1/alarms/out-of-service/{entry}/return-to-service")
    assert back.status_code == 200
    assert back.json()["in_force"] is False
    again = admin_client_api.post(f"/api/v1/alarms/out-of-service/{entry}/return-to-service")
    assert again.status_code == 400
    assert "already returned to service" in named_errors(again)["state"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "Broken sensor."}, "well_id"),
        ({"well_id": "WELL-001"}, "reason"),
        ({"well_id": "WELL-001", "reason": " "}, "reason"),
        ({"well_id": "WELL-999", "reason": "Workover."}, "well_id"),
        ({"alarm_type": "gremlins", "reason": "Workover."}, "alarm_type"),
        ({"well_id": "WELL-001", "reason": "Workover.", "until": "2020-01-01T00:00:00Z"}, "until"),
    ],
    ids=["neither well nor type", "no reason", "blank reason", "unknown well", "unknown type", "end in the past"],
)
def test_it_refuses_a_bad_out_of_service_naming_the_field_and_saves_nothing(admin_client_api, well, alarm, body, field):
    response = admin_client_api.post("/api/v1/alarms/out-of-service", body, format="json")
    assert response.status_code == 400
    assert field in named_errors(response)
    assert not OutOfService.objects.exists()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_it_takes_an_alarm_type_out_of_service_fleet_wide(admin_client_api, alarm):
    body = {"alarm_type": DiagnosticType.GAS_LOCK, "reason": "Gas-lock rule being re-tuned."}
    response = admin_client_api.post("/api/v1/alarms/out-of-service", body, format="json")
    assert response.status_code == 201
    assert (response.json()["well_id"], response.json()["alarm_type"]) == (None, "gas_lock")
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.CLOSED
