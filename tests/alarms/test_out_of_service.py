"""Out of service: conditions on a well or of a type raise no alarm while it lasts, and are counted."""

import pytest

from alarms import lifecycle
from alarms.lifecycle import Outcome
from alarms.models import Alarm, AlarmEvent, AlarmEventKind, AlarmState, AlarmTransitionRefused
from analytics.models import DiagnosticType
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db


def out_of_service(admin_user, *, well=None, alarm_type="", until=None, now=T0):
    return lifecycle.take_out_of_service(
        well=well, alarm_type=alarm_type, reason="Workover rig on site.", until=until, user=admin_user, now=now
    )


def test_it_suppresses_raises_on_a_well_out_of_service_and_counts_them(well, admin_user):
    entry = out_of_service(admin_user, well=well)

    run_diagnostics(well, T0 + minutes(5), [finding(at=T0 + minutes(5))])
    run_diagnostics(well, T0 + minutes(10), [finding(DiagnosticType.OVERLOAD, "warning", at=T0 + minutes(10))])

    assert not Alarm.objects.exists()
    assert not AlarmEvent.objects.exists()  # nothing to notify
    entry.refresh_from_db()
    assert (entry.suppressed_count, entry.last_suppressed_at) == (2, T0 + minutes(10))


def test_it_suppresses_one_type_fleet_wide_and_leaves_the_others_alone(well, admin_user):
    other = WellFactory()
    out_of_service(admin_user, alarm_type=DiagnosticType.GAS_LOCK)

    assert raise_gas_lock(well, at=T0 + minutes(1)).outcome == Outcome.SUPPRESSED
    assert raise_gas_lock(other, at=T0 + minutes(1)).outcome == Outcome.SUPPRESSED
    overload = lifecycle.raise_alarm(well, DiagnosticType.OVERLOAD, "warning", at=T0 + minutes(1))
    assert overload.outcome == Outcome.RAISED


def test_it_suppresses_one_type_on_one_well_only(well, admin_user):
    other = WellFactory()
    out_of_service(admin_user, well=well, alarm_type=DiagnosticType.GAS_LOCK)
    assert raise_gas_lock(well, at=T0 + minutes(1)).outcome == Outcome.SUPPRESSED
    assert raise_gas_lock(other, at=T0 + minutes(1)).outcome == Outcome.RAISED


def test_it_closes_the_open_alarms_it_covers_when_it_starts(well, admin_user):
    alarm = raise_gas_lock(well).alarm
    out_of_service(admin_user, well=well, now=T0 + minutes(5))

    alarm.refresh_from_db()
    assert (alarm.state, alarm.close_reason) == (AlarmState.CLOSED, "out_of_service")
    event = alarm.events.get(kind=AlarmEventKind.OUT_OF_SERVICE)
    assert (event.actor, event.comment, event.notify) == (admin_user, "Workover rig on site.", False)


def test_it_raises_again_after_the_end_time_or_return_to_service(well, admin_user):
    out_of_service(admin_user, well=well, until=T0 + minutes(60))
    assert raise_gas_lock(well, at=T0 + minutes(59)).outcome == Outcome.SUPPRESSED
    assert raise_gas_lock(well, at=T0 + minutes(60)).outcome == Outcome.RAISED

    other = WellFactory()
    entry = out_of_service(admin_user, well=other)
    lifecycle.return_to_service(entry, user=admin_user, now=T0 + minutes(30))
    assert raise_gas_lock(other, at=T0 + minutes(31)).outcome == Outcome.RAISED


def test_it_does_not_reopen_an_alarm_closed_by_out_of_service(well, admin_user):
    alarm = raise_gas_lock(well).alarm
    entry = out_of_service(admin_user, well=well, now=T0 + minutes(5))
    lifecycle.return_to_service(entry, user=admin_user, now=T0 + minutes(10))
    result = raise_gas_lock(well, at=T0 + minutes(15))
    assert result.outcome == Outcome.RAISED and result.alarm.pk != alarm.pk


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"well": None, "alarm_type": "", "reason": "Workover.", "until": None}, "well_id"),
        ({"reason": "  ", "until": None}, "reason"),
        ({"reason": "Workover.", "until": T0}, "until"),
    ],
)
def test_it_refuses_an_entry_without_scope_reason_or_a_future_end(well, admin_user, kwargs, field):
    arguments = {"well": well, "alarm_type": "", "user": admin_user, "now": T0, **kwargs}
    with pytest.raises(AlarmTransitionRefused) as refused:
        lifecycle.take_out_of_service(**arguments)
    assert refused.value.field == field
