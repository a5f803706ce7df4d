"""Running the diagnostics: load each well's recent readings and hourly rollups, apply the rules, store
the findings once per window, and tell the layers above (``signals.diagnostics_ran``).

- ``run_well(well, now)`` runs one well (the API's "run now").
- ``run_fleet(now)`` runs every active well in batches (Celery beat, every ``DIAGNOSTICS_INTERVAL``);
  one well's failure is logged and counted, never the end of the cycle.

Idempotent: a run's window ends at its clock, floored to the minute (``run_well``) or to the beat
interval (``run_fleet``), and ``DiagnosticResult`` is unique per (well, type, window end), so a retried
or overlapping run writes nothing twice (INSERT … ON CONFLICT DO NOTHING).
"""

import dataclasses
import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics import metrics
from analytics.diagnostics.rules import BASELINE_WINDOW, RECENT_WINDOW, Reading, WellSpec, diagnose
from analytics.diagnostics.signals import diagnostics_ran
from analytics.models import DiagnosticResult, DiagnosticType
from wells.models import Well, WellStatus

logger = logging.getLogger(__name__)

# Every type the rules can judge in a run: one not found is seen absent (alarms return to normal on it).
EVALUATED_TYPES = frozenset(DiagnosticType.values)

# The raw readings of a batch of wells in (start, end], per well in time order.
RECENT_READINGS = """
SELECT well_id, "time", flow_rate, pip, casing_pressure, tubing_pressure, intake_pressure,
       discharge_pressure, motor_current, motor_temp, vibration
FROM telemetry_reading
WHERE well_id = ANY(%(wells)s) AND "time" > %(start)s AND "time" <= %(end)s
ORDER BY well_id, "time"
"""

# The hourly rollup rows a batch of wells learns its baseline from, per well in time order.
BASELINE_HOURS = """
SELECT well_id, bucket, min_flow_rate, avg_flow_rate, avg_pip, avg_casing_pressure, avg_tubing_pressure,
       avg_intake_pressure, avg_discharge_pressure, avg_motor_current, avg_motor_temp, avg_vibration
FROM telemetry_hourly
WHERE well_id = ANY(%(wells)s) AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY well_id, bucket
"""
_HOURLY_NAMES = [
    "bucket",
    "min_flow_rate",
    "avg_flow_rate",
    "avg_pip",
    "avg_casing_pressure",
    "avg_tubing_pressure",
    "avg_intake_pressure",
    "avg_discharge_pressure",
    "avg_motor_current",
    "avg_motor_temp",
    "avg_vibration",
]


@dataclasses.dataclass(frozen=True)
class WellRun:
    """What one run of one well found (every finding, stored now or by an earlier run of the window)."""

    well: Well
    ran_at: datetime.datetime
    window_start: datetime.datetime
    window_end: datetime.datetime
    findings: list


@dataclasses.dataclass
class FleetRun:
    """What a fleet cycle did, for the task's log line and metrics."""

    wells: int = 0
    findings: int = 0
    failed_wells: int = 0


def spec_of(well):
    return WellSpec(
        well_id=well.well_id,
        status=well.status,
        rated_flow_bpd=well.rated_flow_bpd,
        min_operating_flow_bpd=well.min_operating_flow_bpd,
        max_operating_flow_bpd=well.max_operating_flow_bpd,
        motor_nameplate_current_a=well.motor_nameplate_current_a,
        motor_temp_limit_c=well.motor_temp_limit_c,
        vibration_limit_mm_s=well.vibration_limit_mm_s,
    )


def _floor(moment, step):
    epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return moment - (moment - epoch) % step


def _inputs(wells, window_end):
    """({well pk: [Reading]}, {well pk: [hourly row dict]}) for ``wells``: two queries."""
    pks = [well.pk for well in wells]
    readings, hourly = {pk: [] for pk in pks}, {pk: [] for pk in pks}
    with connection.cursor() as cursor:
        cursor.execute(RECENT_READINGS, {"wells": pks, "start": window_end - RECENT_WINDOW, "end": window_end})
        for well_pk, *values in cursor.fetchall():
            readings[well_pk].append(Reading(*values))
        cursor.execute(BASELINE_HOURS, {"wells": pks, "start": window_end - BASELINE_WINDOW, "end": window_end})
        for well_pk, *values in cursor.fetchall():
            hourly[well_pk].append(dict(zip(_HOURLY_NAMES, values, strict=True)))
    return readings, hourly


def _record(well, ran_at, window_end, findings):
    """Store the findings (once per window) and tell the layers above, in one transaction."""
    with transaction.atomic():
        DiagnosticResult.objects.bulk_create(
            [
                DiagnosticResult(
                    well=well,
                    detected_at=finding.detected_at,
                    window_start=finding.window_start,
                    window_end=finding.window_end,
                    diagnostic_type=finding.diagnostic_type,
                    severity=finding.severity,
                    confidence=finding.confidence,
                    evidence=finding.evidence,
                    recommended_action=finding.recommended_action,
                )
                for finding in findings
            ],
            ignore_conflicts=True,
        )
        diagnostics_ran.send(sender=WellRun, well=well, ran_at=ran_at, findings=findings, evaluated=EVALUATED_TYPES)


def _run(well, readings, hourly, ran_at, window_end):
    findings = diagnose(spec_of(well), readings, hourly, window_end)
    _record(well, ran_at, window_end, findings)
    metrics.count_findings(findings)
    return WellRun(well, ran_at, window_end - RECENT_WINDOW, window_end, findings)


def run_well(well, now=None):
    """Diagnose one well now (window ending at the current minute); returns a ``WellRun``.

    A well that is not active gets no findings (and so no condition alarms).
    """
    ran_at = now or timezone.now()
    window_end = _floor(ran_at, datetime.timedelta(minutes=1))
    readings, hourly = _inputs([well], window_end)
    return _run(well, readings[well.pk], hourly[well.pk], ran_at, window_end)


def run_fleet(now=None, batch_size=None):
    """Diagnose every active well, ``batch_size`` wells per pair of queries; returns a ``FleetRun``."""
    ran_at = now or timezone.now()
    window_end = _floor(ran_at, settings.DIAGNOSTICS_INTERVAL)
    batch_size = batch_size or settings.DIAGNOSTICS_BATCH_SIZE
    outcome = FleetRun()
    with metrics.timing_fleet_run():
        wells = list(Well.objects.filter(status=WellStatus.ACTIVE).order_by("pk"))
        for first in range(0, len(wells), batch_size):
            batch = wells[first : first + batch_size]
            readings, hourly = _inputs(batch, window_end)
            for well in batch:
                try:
                    run = _run(well, readings[well.pk], hourly[well.pk], ran_at, window_end)
                except Exception:  # one well's bad data or a bug must not stop the fleet's cycle
                    outcome.failed_wells += 1
                    logger.exception("Diagnostics: the run of %s failed", well.well_id)
                    continue
                outcome.wells += 1
                outcome.findings += len(run.findings)
    metrics.fleet_ran(outcome)
    logger.info(
        "Diagnostics: %d wells run, %d findings, %d wells failed (window ending %s)",
        outcome.wells,
        outcome.findings,
        outcome.failed_wells,
        window_end.isoformat(),
    )
    return outcome
