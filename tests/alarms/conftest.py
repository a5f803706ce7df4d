"""What the alarm tests share: a fixed clock, hand-made findings, and diagnostics runs sent as the engine
sends them (the ``diagnostics_ran`` signal), so no test waits for the engine or for time to pass."""

import datetime

import pytest

from alarms import lifecycle
from analytics.diagnostics.findings import Finding
from analytics.diagnostics.signals import diagnostics_ran
from analytics.models import DiagnosticType

# Every test's "now" unless it says otherwise: a Saturday morning in the field.
T0 = datetime.datetime(2026, 11, 28, 8, 0, tzinfo=datetime.UTC)


def minutes(n):
    return datetime.timedelta(minutes=n)


def finding(diagnostic_type=DiagnosticType.GAS_LOCK, severity="critical", *, at=T0, **evidence):
    """A finding as the engine makes it: over the 2 hours up to ``at``, detected at ``at``."""
    return Finding(
        diagnostic_type=str(diagnostic_type),
        severity=severity,
        confidence=0.9,
        evidence=evidence or {"current_a": 21.4, "flow_bpd": 12.0},
        recommended_action="Cycle the pump to vent the gas.",
        window_start=at - datetime.timedelta(hours=2),
        window_end=at,
        detected_at=at,
    )


def run_diagnostics(well, at, findings=(), evaluated=None):
    """Sends ``diagnostics_ran`` as the engine does after a run of ``well`` at ``at``. ``evaluated``
    defaults to every type: a type without a finding is then judged absent."""
    diagnostics_ran.send(
        sender=lifecycle,
        well=well,
        ran_at=at,
        findings=list(findings),
        evaluated=frozenset(DiagnosticType.values if evaluated is None else evaluated),
    )


def raise_gas_lock(well, at=T0, severity="critical", **kwargs):
    return lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, severity, at=at, **kwargs)


@pytest.fixture
def alarm_settings(settings):
    """The alarm timings every test reasons with, whatever the environment says."""
    settings.ALARM_CLEAR_AFTER_MINUTES = 15
    settings.ALARM_REALARM_HOLDOFF_MINUTES = 60
    settings.ALARM_ESCALATE_AFTER_MINUTES = 15
    settings.ALARM_SHELVE_MAX_HOURS = 72
    settings.ALARM_ESCALATION_RECEIVERS = ["control-room@example.com"]
    return settings


@pytest.fixture(autouse=True)
def _alarm_settings(alarm_settings):
    return alarm_settings
