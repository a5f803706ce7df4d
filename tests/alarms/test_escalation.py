"""Escalation: a critical alarm left unacknowledged too long notifies the escalation receivers, once.
Time is the argument passed to the escalation, never a sleep."""

import pytest

from alarms import lifecycle
from alarms.models import AlarmEventKind
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics

pytestmark = pytest.mark.django_db


def escalations(alarm):
    return list(alarm.events.filter(kind=AlarmEventKind.ESCALATED))


def test_it_escalates_a_critical_alarm_unacknowledged_past_the_delay_once(well):
    alarm = raise_gas_lock(well).alarm

    assert lifecycle.escalate_overdue(now=T0 + minutes(14)) == 0
    assert lifecycle.escalate_overdue(now=T0 + minutes(15)) == 1
    assert lifecycle.escalate_overdue(now=T0 + minutes(16)) == 0
    assert lifecycle.escalate_overdue(now=T0 + minutes(120)) == 0

    (event,) = escalations(alarm)
    assert event.at == T0 + minutes(15)
    assert (event.from_state, event.to_state, event.notify) == ("active_unacknowledged", "active_unacknowledged", True)
    assert event.details["receivers"] == ["control-room@example.com"]
    alarm.refresh_from_db()
    assert alarm.escalated_at == T0 + minutes(15)


def test_it_takes_the_delay_from_the_settings(well, settings):
    settings.ALARM_ESCALATE_AFTER_MINUTES = 5
    alarm = raise_gas_lock(well).alarm
    assert lifecycle.escalate_overdue(now=T0 + minutes(5)) == 1
    assert len(escalations(alarm)) == 1


def test_it_does_not_escalate_a_warning(well):
    raise_gas_lock(well, severity="warning")
    assert lifecycle.escalate_overdue(now=T0 + minutes(60)) == 0


def test_it_does_not_escalate_an_acknowledged_alarm(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.acknowledge(operator, now=T0 + minutes(14))
    assert lifecycle.escalate_overdue(now=T0 + minutes(60)) == 0


def test_it_does_not_escalate_a_shelved_alarm_until_the_shelve_expires(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.shelve(operator, until=T0 + minutes(90), reason="Engineer on it.", now=T0 + minutes(5))
    assert lifecycle.check_alarm_timers(now=T0 + minutes(60)) == {"unshelved": 0, "escalated": 0}
    assert lifecycle.check_alarm_timers(now=T0 + minutes(90)) == {"unshelved": 1, "escalated": 1}


def test_it_escalates_a_warning_that_became_critical_counting_from_when_it_did(well):
    alarm = raise_gas_lock(well, severity="warning").alarm
    run_diagnostics(well, T0 + minutes(30), [finding(severity="critical", at=T0 + minutes(30))])
    assert lifecycle.escalate_overdue(now=T0 + minutes(44)) == 0
    assert lifecycle.escalate_overdue(now=T0 + minutes(45)) == 1
    assert len(escalations(alarm)) == 1


def test_it_escalates_again_in_a_new_unacknowledged_spell(well, operator):
    # Escalated, acknowledged, then it came back after returning to normal: a new spell, a new escalation.
    alarm = raise_gas_lock(well).alarm
    lifecycle.escalate_overdue(now=T0 + minutes(15))
    alarm.acknowledge(operator, now=T0 + minutes(16))
    run_diagnostics(well, T0 + minutes(20))
    run_diagnostics(well, T0 + minutes(35))  # closed
    raise_gas_lock(well, at=T0 + minutes(40))  # reopened within the hold-off

    assert lifecycle.escalate_overdue(now=T0 + minutes(54)) == 0
    assert lifecycle.escalate_overdue(now=T0 + minutes(55)) == 1
    assert len(escalations(alarm)) == 2
