"""A small fleet as the dashboards see it, for their tests and the browser tests.

The twelve demo wells (one in maintenance), three days of simulated readings — every 15 minutes, the
last six hours every minute — with a gas lock on WELL-003 and a broken shaft on WELL-007 in progress,
WELL-010 silent for two days, the rollups refreshed, a few diagnostic findings, three open alarms raised
through the alarms app's own raise path. Users come from the role fixtures of tests/conftest.py.
"""

import dataclasses
import datetime

from django.utils import timezone

from alarms.lifecycle import raise_alarm
from analytics.models import DiagnosticResult, DiagnosticType, Severity
from analytics.rollups import refresh_rollups
from telemetry.simulator.backfill import backfill
from telemetry.simulator.faults import FaultEpisode
from wells.demo import load_demo_wells
from wells.models import WellStatus

SILENT_WELL = "WELL-010"
GAS_LOCK_WELL = "WELL-003"
BROKEN_SHAFT_WELL = "WELL-007"
HOT_MOTOR_WELL = "WELL-005"


@dataclasses.dataclass
class SeededFleet:
    now: datetime.datetime
    wells: dict  # well_id -> Well
    alarms: dict  # well_id -> Alarm


def seed_fleet(now=None):
    now = (now or timezone.now()).replace(microsecond=0)
    wells = {well.well_id: well for well in load_demo_wells()}
    active = [well for well in wells.values() if well.status == WellStatus.ACTIVE]
    reporting = [well for well in active if well.well_id != SILENT_WELL]
    faults = [
        FaultEpisode(GAS_LOCK_WELL, "gas_lock", now - datetime.timedelta(minutes=90), datetime.timedelta(hours=3)),
        FaultEpisode(BROKEN_SHAFT_WELL, "broken_shaft", now - datetime.timedelta(hours=4), datetime.timedelta(hours=8)),
    ]
    six_hours_ago = now - datetime.timedelta(hours=6)
    backfill(reporting, now - datetime.timedelta(days=3), six_hours_ago, interval=900, faults=faults, seed=3)
    backfill(reporting, six_hours_ago, now, interval=60, faults=faults, seed=3)
    backfill([wells[SILENT_WELL]], now - datetime.timedelta(days=3), now - datetime.timedelta(days=2), interval=900)
    refresh_rollups()

    findings = [
        (GAS_LOCK_WELL, DiagnosticType.GAS_INTERFERENCE, Severity.WARNING, datetime.timedelta(days=9)),
        (GAS_LOCK_WELL, DiagnosticType.GAS_LOCK, Severity.CRITICAL, datetime.timedelta(hours=1)),
        (BROKEN_SHAFT_WELL, DiagnosticType.BROKEN_SHAFT, Severity.CRITICAL, datetime.timedelta(hours=3)),
        (HOT_MOTOR_WELL, DiagnosticType.HIGH_MOTOR_TEMP, Severity.WARNING, datetime.timedelta(hours=2)),
    ]
    for well_id, kind, severity, ago in findings:
        DiagnosticResult.objects.create(
            well=wells[well_id],
            detected_at=now - ago,
            window_start=now - ago - datetime.timedelta(hours=2),
            window_end=now - ago,
            diagnostic_type=kind,
            severity=severity,
            confidence=0.85,
            evidence={"current_a": 21.4},
            recommended_action="Check the pump before the next trip.",
        )
    alarms = {}
    for well_id, kind, severity, ago in findings[1:]:
        result = raise_alarm(
            wells[well_id],
            kind,
            severity,
            at=now - ago,
            evidence={"current_a": 21.4},
            confidence=0.85,
            recommended_action="Check the pump before the next trip.",
        )
        alarms[well_id] = result.alarm
    return SeededFleet(now=now, wells=wells, alarms=alarms)
