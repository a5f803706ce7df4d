"""Return to normal after the condition has been gone long enough, and no chatter from a flapping one."""

import pytest

from alarms import lifecycle
from alarms.lifecycle import Outcome
from alarms.models import Alarm, AlarmEventKind, AlarmState, CloseReason
from analytics.models import DiagnosticType
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics

pytestmark = pytest.mark.django_db


def state_of(alarm):
    alarm.refresh_from_db()
    return alarm.state


def test_it_returns_to_normal_once_the_condition_has_been_absent_for_the_clear_delay(well):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))  # first run that sees it gone
    run_diagnostics(well, T0 + minutes(19))
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED

    run_diagnostics(well, T0 + minutes(20))  # 15 minutes after the first absent run
    assert state_of(alarm) == AlarmState.RETURNED_UNACKNOWLEDGED
    assert alarm.returned_at == T0 + minutes(20)
    event = alarm.events.get(kind=AlarmEventKind.RETURNED_TO_NORMAL)
    assert (event.from_state, event.to_state, event.notify) == (
        "active_unacknowledged",
        "returned_unacknowledged",
        True,
    )


def test_it_honours_the_clear_delay_from_the_settings(well, settings):
    settings.ALARM_CLEAR_AFTER_MINUTES = 0
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))
    assert state_of(alarm) == AlarmState.RETURNED_UNACKNOWLEDGED


def test_it_starts_the_clear_delay_again_when_the_condition_comes_back(well):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(10), [finding(at=T0 + minutes(10))])  # flaps back
    run_diagnostics(well, T0 + minutes(15))
    run_diagnostics(well, T0 + minutes(25))
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED  # absent only 10 minutes so far
    run_diagnostics(well, T0 + minutes(30))
    assert state_of(alarm) == AlarmState.RETURNED_UNACKNOWLEDGED
    assert list(alarm.events.values_list("kind", flat=True)) == ["raised", "returned_to_normal"]


def test_it_only_judges_a_condition_absent_when_the_run_evaluated_its_type(well):
    alarm = raise_gas_lock(well).alarm
    for step in (5, 30, 60):
        run_diagnostics(well, T0 + minutes(step), evaluated={DiagnosticType.HIGH_VIBRATION})
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_it_treats_an_info_finding_as_the_alarm_condition_gone(well):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5), [finding(severity="info", at=T0 + minutes(5))])
    run_diagnostics(well, T0 + minutes(20), [finding(severity="info", at=T0 + minutes(20))])
    assert state_of(alarm) == AlarmState.RETURNED_UNACKNOWLEDGED


def test_it_closes_an_acknowledged_alarm_when_it_returns_to_normal(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.acknowledge(operator, now=T0 + minutes(1))
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    assert state_of(alarm) == AlarmState.CLOSED
    assert (alarm.close_reason, alarm.closed_at) == (CloseReason.NORMAL, T0 + minutes(20))
    assert not Alarm.objects.open().exists()


def test_it_closes_a_returned_alarm_when_it_is_acknowledged(well, operator):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    alarm.acknowledge(operator, now=T0 + minutes(25))
    assert state_of(alarm) == AlarmState.CLOSED
    event = alarm.events.get(kind=AlarmEventKind.ACKNOWLEDGED)
    assert (event.from_state, event.to_state, event.actor) == ("returned_unacknowledged", "closed", operator)


def test_it_reactivates_a_returned_unacknowledged_alarm_rather_than_raising_another(well):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    run_diagnostics(well, T0 + minutes(25), [finding(at=T0 + minutes(25))])

    assert Alarm.objects.count() == 1
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED
    assert alarm.reactivation_count == 1
    reactivated = alarm.events.get(kind=AlarmEventKind.REACTIVATED)
    assert (reactivated.from_state, reactivated.notify) == ("returned_unacknowledged", False)


def test_it_reopens_a_closed_alarm_that_comes_back_within_the_hold_off_and_counts_a_chatter(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.acknowledge(operator, now=T0 + minutes(1))
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))  # closed at T0+20
    assert state_of(alarm) == AlarmState.CLOSED

    result = raise_gas_lock(well, at=T0 + minutes(79))  # 59 minutes after its return to normal
    assert (result.outcome, result.alarm.pk) == (Outcome.REACTIVATED, alarm.pk)
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED  # the operator must see it again
    assert alarm.reactivation_count == 1
    assert alarm.closed_at is None
    assert alarm.events.get(kind=AlarmEventKind.REACTIVATED).notify is False  # no page for a chatter

    # Its next return to normal pages nobody either: it has chattered.
    run_diagnostics(well, T0 + minutes(85))
    run_diagnostics(well, T0 + minutes(100))
    assert alarm.events.filter(kind=AlarmEventKind.RETURNED_TO_NORMAL).latest("at").notify is False


def test_it_raises_a_new_alarm_once_the_hold_off_has_passed(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.acknowledge(operator, now=T0 + minutes(1))
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))

    result = raise_gas_lock(well, at=T0 + minutes(81))
    assert result.outcome == Outcome.RAISED
    assert result.alarm.pk != alarm.pk


def test_it_does_not_reopen_an_alarm_an_operator_cleared(well, operator):
    alarm = raise_gas_lock(well).alarm
    alarm.clear(operator, now=T0 + minutes(1))
    result = raise_gas_lock(well, at=T0 + minutes(6))
    assert result.outcome == Outcome.RAISED
    assert result.alarm.pk != alarm.pk


def test_it_leaves_alarms_of_a_well_that_stopped_being_active_for_an_operator_to_clear(well, operator):
    alarm = raise_gas_lock(well).alarm
    well.status = "shut_in"
    well.save()
    run_diagnostics(well, T0 + minutes(30))
    assert state_of(alarm) == AlarmState.ACTIVE_UNACKNOWLEDGED
    alarm.clear(operator, now=T0 + minutes(31), comment="Well shut in for workover.")
    assert state_of(alarm) == AlarmState.CLOSED
    assert alarm.close_reason == CloseReason.CLEARED


def test_it_notes_absence_only_on_active_alarms(well):
    alarm = raise_gas_lock(well).alarm
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))
    alarm.refresh_from_db()
    assert lifecycle.note_condition_absent(alarm, at=T0 + minutes(40)) is None
    assert alarm.events.count() == 2
