"""Raising alarms from diagnostic findings: once per (well, type), repeats counted, peak severity kept."""

import pytest

from alarms import lifecycle
from alarms.lifecycle import Outcome
from alarms.models import Alarm, AlarmEvent, AlarmEventKind, AlarmState
from analytics.diagnostics.engine import run_well
from analytics.models import DiagnosticType
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db


def test_it_raises_one_alarm_for_a_critical_finding_with_its_evidence(well):
    run_diagnostics(well, T0, [finding(current_a=21.4, flow_bpd=12.0)])

    alarm = Alarm.objects.get()
    assert (alarm.well, alarm.alarm_type, alarm.state) == (well, "gas_lock", AlarmState.ACTIVE_UNACKNOWLEDGED)
    assert alarm.peak_severity == "critical"
    assert alarm.raised_at == alarm.last_seen_at == T0
    assert alarm.evidence == {"current_a": 21.4, "flow_bpd": 12.0}
    assert alarm.recommended_action == "Cycle the pump to vent the gas."
    event = alarm.events.get()
    assert (event.kind, event.from_state, event.to_state, event.notify) == ("raised", "", "active_unacknowledged", True)


def test_it_counts_a_repeat_on_the_open_alarm_instead_of_raising_another(well):
    for run in range(4):
        run_diagnostics(well, T0 + minutes(5 * run), [finding(at=T0 + minutes(5 * run))])

    alarm = Alarm.objects.get()
    assert alarm.occurrence_count == 4
    assert alarm.last_seen_at == T0 + minutes(15)
    assert alarm.raised_at == T0
    assert list(alarm.events.values_list("kind", flat=True)) == ["raised"]  # repeats are not transitions


def test_it_never_raises_an_alarm_for_an_info_finding(well):
    run_diagnostics(well, T0, [finding(severity="info")])
    assert not Alarm.objects.exists()
    with pytest.raises(ValueError, match="info"):
        raise_gas_lock(well, severity="info")


def test_it_keeps_the_peak_severity_and_makes_an_acknowledged_alarm_unacknowledged_when_it_worsens(well, operator):
    run_diagnostics(well, T0, [finding(severity="warning")])
    alarm = Alarm.objects.get()
    alarm.acknowledge(operator, now=T0 + minutes(2))

    run_diagnostics(well, T0 + minutes(5), [finding(severity="critical", at=T0 + minutes(5))])
    alarm.refresh_from_db()
    assert alarm.peak_severity == "critical"
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED
    assert alarm.unacknowledged_since == T0 + minutes(5)
    worsened = alarm.events.get(kind=AlarmEventKind.SEVERITY_RAISED)
    assert (worsened.from_state, worsened.to_state, worsened.notify) == (
        "active_acknowledged",
        "active_unacknowledged",
        True,
    )

    run_diagnostics(well, T0 + minutes(10), [finding(severity="warning", at=T0 + minutes(10))])
    alarm.refresh_from_db()
    assert (alarm.peak_severity, alarm.last_severity) == ("critical", "warning")


def test_it_counts_the_worst_finding_of_a_type_once_per_run(well):
    run_diagnostics(well, T0, [finding(severity="warning"), finding(severity="critical"), finding(severity="info")])
    alarm = Alarm.objects.get()
    assert (alarm.occurrence_count, alarm.peak_severity) == (1, "critical")


def test_it_raises_one_alarm_per_type_on_the_same_well(well):
    run_diagnostics(well, T0, [finding(DiagnosticType.GAS_LOCK), finding(DiagnosticType.HIGH_MOTOR_TEMP, "warning")])
    assert sorted(Alarm.objects.values_list("alarm_type", flat=True)) == ["gas_lock", "high_motor_temp"]


def test_it_does_not_count_a_replayed_finding_twice(well):
    # A retried diagnostics run sends the finding of the same window again.
    run_diagnostics(well, T0, [finding()])
    run_diagnostics(well, T0 + minutes(1), [finding(at=T0)])
    assert Alarm.objects.get().occurrence_count == 1


@pytest.mark.parametrize("status", ["shut_in", "maintenance", "decommissioned"])
def test_it_raises_nothing_on_a_well_that_is_not_active(status):
    well = WellFactory(status=status)
    run_diagnostics(well, T0, [finding()])
    assert raise_gas_lock(well).outcome == Outcome.REFUSED
    assert not Alarm.objects.exists()


def test_it_raises_a_new_alarm_after_the_previous_one_was_cleared(well, operator):
    first = raise_gas_lock(well).alarm
    first.clear(operator, now=T0 + minutes(1))

    second = raise_gas_lock(well, at=T0 + minutes(5)).alarm
    assert second.pk != first.pk
    assert Alarm.objects.open().get() == second


def test_it_is_one_callable_path_without_the_signal(well):
    result = lifecycle.raise_alarm(
        well, DiagnosticType.OVERLOAD, "warning", at=T0, evidence={"current_a": 61.0}, window_end=T0
    )
    assert result.outcome == Outcome.RAISED
    assert (
        lifecycle.raise_alarm(well, DiagnosticType.OVERLOAD, "warning", at=T0 + minutes(5)).outcome == Outcome.REPEATED
    )
    assert AlarmEvent.objects.filter(alarm=result.alarm).count() == 1


def test_it_raises_what_the_diagnostics_engine_finds(well):
    # The real engine and the real signal: each warning or critical finding is an open alarm of its type, and
    # nothing else is. A well that never reported is itself a finding (no data).
    run = run_well(well, now=T0)

    alarming = {f.diagnostic_type for f in run.findings if f.severity in ("warning", "critical")}
    assert alarming, "the engine found nothing to alarm on a well with no telemetry at all"
    assert set(Alarm.objects.open().values_list("alarm_type", flat=True)) == alarming
