"""Shelving: time-limited, still evaluated, hidden from the alarms needing action, expires by itself."""

import datetime

import pytest
from django.utils import timezone

from alarms import lifecycle
from alarms.models import Alarm, AlarmEventKind, AlarmState
from alarms.tasks import check_alarm_timers_task
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelved(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.shelve(operator, until=T0 + minutes(60), reason="Known slugging after the workover.", now=T0 + minutes(1))
    return alarm


def test_it_hides_a_shelved_alarm_from_those_needing_action_but_keeps_counting_it(well, shelved):
    assert shelved.state == AlarmState.SHELVED
    assert not Alarm.objects.needing_action().exists()

    run_diagnostics(well, T0 + minutes(5), [finding(at=T0 + minutes(5))])
    shelved.refresh_from_db()
    assert shelved.occurrence_count == 2
    assert shelved.state == AlarmState.SHELVED


def test_it_still_returns_a_shelved_alarm_to_normal_without_notifying(well, shelved):
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    shelved.refresh_from_db()
    assert shelved.active is False
    event = shelved.events.get(kind=AlarmEventKind.RETURNED_TO_NORMAL)
    assert (event.from_state, event.to_state, event.notify) == ("shelved", "shelved", False)


def test_it_unshelves_when_the_expiry_passes_and_not_before(shelved):
    assert lifecycle.unshelve_expired(now=T0 + minutes(59)) == 0
    assert lifecycle.unshelve_expired(now=T0 + minutes(60)) == 1

    shelved.refresh_from_db()
    assert shelved.state == AlarmState.ACTIVE_UNACKNOWLEDGED
    assert (shelved.shelved_until, shelved.shelve_reason) == (None, "")
    event = shelved.events.get(kind=AlarmEventKind.UNSHELVED)
    assert (event.actor, event.from_state, event.to_state) == (None, "shelved", "active_unacknowledged")
    assert event.details["expired"] is True
    assert lifecycle.unshelve_expired(now=T0 + minutes(61)) == 0  # once


def test_it_keeps_the_shelve_reason_and_who_shelved_it_in_the_history(shelved, operator):
    event = shelved.events.get(kind=AlarmEventKind.SHELVED)
    assert (event.actor, event.comment, event.notify) == (operator, "Known slugging after the workover.", False)
    assert event.details == {"until": (T0 + minutes(60)).isoformat()}


def test_it_unshelves_an_expired_shelve_when_alarms_are_read(well, operator, viewer_client):
    now = timezone.now()
    alarm = raise_gas_lock(well, at=now - minutes(30)).alarm
    alarm.shelve(operator, until=now + minutes(10), reason="Short look.", now=now - minutes(20))
    Alarm.objects.filter(pk=alarm.pk).update(shelved_until=now - datetime.timedelta(seconds=1))  # it ran out

    response = viewer_client.get(f"/api/v1/alarms/{alarm.pk}")
    assert response.json()["state"] == "active_unacknowledged"
    assert response.json()["events"][-1]["kind"] == "unshelved"


def test_it_is_unshelved_by_the_beat_task(well, operator):
    now = timezone.now()
    alarm = raise_gas_lock(well, at=now - minutes(30)).alarm
    alarm.shelve(operator, until=now + minutes(10), reason="Short look.", now=now - minutes(20))
    Alarm.objects.filter(pk=alarm.pk).update(shelved_until=now - datetime.timedelta(seconds=1))

    check_alarm_timers_task()  # the task body, as the worker runs it, on the wall clock
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_it_closes_the_shelve_with_the_alarm(well, shelved, operator):
    shelved.acknowledge(operator, now=T0 + minutes(2))
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    shelved.refresh_from_db()
    assert shelved.state == AlarmState.CLOSED
    assert shelved.shelved_until is None
