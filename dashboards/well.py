"""One well's page, besides its charts: newest reading, operating point, diagnostics and alarms."""

import dataclasses
import datetime

from django.db import connection
from django.db.models import Q

from alarms.models import Alarm
from analytics.models import DiagnosticResult, Severity
from dashboards.fleet import STATUS_LABELS, operating_status
from telemetry.models import Reading

RECENT_ALARMS = datetime.timedelta(days=30)
DIAGNOSTICS_WINDOW = datetime.timedelta(days=30)
DIAGNOSTICS_LISTED = 20

_METRICS = ", ".join(f"l.{m}" for m in Reading.METRIC_FIELDS)

# The newest reading, from the well's latest state (telemetry.models.LatestReading): one row.
NEWEST_READING = f"SELECT l.time, {_METRICS} FROM telemetry_latestreading l WHERE l.well_id = %(well)s"

# The newest complete hour's scores and mean flow.
LAST_HOUR_PERFORMANCE = """
SELECT p.bucket, p.health_score, p.efficiency_score, p.avg_flow_rate
FROM well_performance_hourly p
WHERE p.well_id = %(well)s AND p.bucket >= %(since)s AND p.bucket < %(current_hour)s
ORDER BY p.bucket DESC LIMIT 1
"""


def _fetch_one(query, params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


@dataclasses.dataclass(frozen=True)
class LatestReading:
    """The well's newest reading (values by metric, None where the sensor sent nothing)."""

    time: datetime.datetime | None
    values: dict
    status: str
    age_seconds: float | None

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]


def latest_reading(well, now):
    """The newest reading of ``well``; ``time`` None when it never reported. One query."""
    row = _fetch_one(NEWEST_READING, {"well": well.pk})
    if row is None:
        return LatestReading(None, dict.fromkeys(Reading.METRIC_FIELDS), operating_status(None, None, None, now), None)
    values = dict(zip(Reading.METRIC_FIELDS, row[1:], strict=True))
    status = operating_status(row[0], values["motor_current"], values["flow_rate"], now)
    return LatestReading(row[0], values, status, max(0.0, (now - row[0]).total_seconds()))


@dataclasses.dataclass(frozen=True)
class LastHour:
    bucket: datetime.datetime
    health: float | None
    efficiency: float | None
    avg_flow_rate: float | None


def last_hour_performance(well, now):
    """Scores of the newest complete hour in the last 6 hours, or None."""
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    row = _fetch_one(
        LAST_HOUR_PERFORMANCE,
        {"well": well.pk, "since": current_hour - datetime.timedelta(hours=6), "current_hour": current_hour},
    )
    return LastHour(*row) if row else None


# --- Operating point ---------------------------------------------------------------------------

OP_WIDTH, OP_HEIGHT = 600, 84
OP_LEFT, OP_RIGHT = 16, 16
OP_BAR_Y, OP_BAR_H = 30, 16


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """Where the pump's flow sits against its recommended range, with the geometry of its SVG bar."""

    flow: float | None
    low: float
    rated: float
    high: float
    verdict: str  # "below", "inside", "above", "unknown"
    axis_max: float
    ticks: list  # (x, label)
    range_x: float
    range_w: float
    rated_x: float
    flow_x: float | None
    width: int = OP_WIDTH
    height: int = OP_HEIGHT

    @property
    def summary(self):
        span = f"recommended range {self.low:,.0f}–{self.high:,.0f} bbl/d, rated {self.rated:,.0f} bbl/d"
        if self.flow is None:
            return f"No recent flow reading; {span}."
        where = {"below": "below", "inside": "inside", "above": "above"}[self.verdict]
        return f"Flow {self.flow:,.0f} bbl/d is {where} the {span}."


def _nice_step(span):
    for step in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000):
        if span / step <= 6:
            return step
    return 50000


def operating_point(well, flow):
    """The operating point of ``well`` at ``flow`` bbl/d (None: unknown)."""
    low, rated, high = well.min_operating_flow_bpd, well.rated_flow_bpd, well.max_operating_flow_bpd
    axis_max = max(high * 1.3, (flow or 0) * 1.1, 1.0)
    inner = OP_WIDTH - OP_LEFT - OP_RIGHT

    def x(value):
        return round(OP_LEFT + inner * min(max(value, 0), axis_max) / axis_max, 1)

    step = _nice_step(axis_max)
    ticks = [(x(v), f"{v:,.0f}") for v in range(0, int(axis_max) + 1, step)]
    if flow is None:
        verdict = "unknown"
    elif flow < low:
        verdict = "below"
    elif flow > high:
        verdict = "above"
    else:
        verdict = "inside"
    return OperatingPoint(
        flow=flow,
        low=low,
        rated=rated,
        high=high,
        verdict=verdict,
        axis_max=axis_max,
        ticks=ticks,
        range_x=x(low),
        range_w=round(x(high) - x(low), 1),
        rated_x=x(rated),
        flow_x=x(flow) if flow is not None else None,
    )


# --- Diagnostics timeline ----------------------------------------------------------------------

TL_WIDTH, TL_LANE_H, TL_LABEL_W, TL_RIGHT = 900, 22, 190, 30


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Findings of the last 30 days as lanes (one per diagnostic type) of ticks coloured by severity."""

    width: int
    height: int
    lanes: list  # (y, label, [(x, w, severity, title)])
    days: list  # (x, label)
    findings: list  # newest first, at most DIAGNOSTICS_LISTED
    total: int


def diagnostics_timeline(well, now):
    """The well's diagnostic findings detected in the last 30 days. One query."""
    start = now - DIAGNOSTICS_WINDOW
    results = list(
        DiagnosticResult.objects.filter(well=well, detected_at__gte=start)
        .only(
            "detected_at",
            "window_start",
            "window_end",
            "diagnostic_type",
            "severity",
            "confidence",
            "recommended_action",
            "evidence",
        )
        .order_by("-detected_at")[:2000]
    )
    inner = TL_WIDTH - TL_LABEL_W - TL_RIGHT
    span = DIAGNOSTICS_WINDOW.total_seconds()

    def x(moment):
        return TL_LABEL_W + inner * min(max((moment - start).total_seconds(), 0), span) / span

    types = sorted({r.diagnostic_type for r in results}, key=lambda t: t)
    lanes = []
    for index, kind in enumerate(types):
        marks = []
        for r in results:
            if r.diagnostic_type != kind:
                continue
            left = x(max(r.window_start, start))
            right = x(r.window_end)
            marks.append(
                (
                    round(left, 1),
                    round(max(right - left, 3.0), 1),
                    r.severity,
                    f"{r.get_diagnostic_type_display()}, {r.get_severity_display().lower()}, "
                    f"{r.detected_at:%Y-%m-%d %H:%M}",
                )
            )
        label = next(r.get_diagnostic_type_display() for r in results if r.diagnostic_type == kind)
        lanes.append((24 + index * TL_LANE_H, label, marks))
    days = []
    for offset in range(0, 31, 5):
        moment = start + datetime.timedelta(days=offset)
        days.append((round(x(moment), 1), f"{moment:%d %b}"))
    height = 24 + max(len(lanes), 1) * TL_LANE_H + 8
    return Timeline(TL_WIDTH, height, lanes, days, results[:DIAGNOSTICS_LISTED], len(results))


# --- Alarms ------------------------------------------------------------------------------------


def well_alarms(well, now):
    """(open alarms, worst first; alarms closed in the last 30 days, newest first, at most 10)."""
    base = Alarm.objects.filter(well=well).select_related("well", "acknowledged_by", "shelved_by")
    open_alarms = sorted(
        base.open(),
        key=lambda a: (
            a.shelved_until is not None,
            a.peak_severity != Severity.CRITICAL,
            a.acknowledged,
            -a.raised_at.timestamp(),
        ),
    )
    recent = list(base.filter(Q(closed_at__gte=now - RECENT_ALARMS)).order_by("-closed_at")[:10])
    return open_alarms, recent
