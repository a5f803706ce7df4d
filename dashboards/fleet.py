"""The fleet at a glance: every active well's newest reading, scores and open alarms, and the totals.

Four reads, each sized for thousands of wells (tests/benchmarks/dashboards.py: 2,000 wells, 90 days):
- each well's newest reading, from its latest state (``telemetry.models.LatestReading``, kept by ingestion):
  one row per well, whatever the ingest rate, and current as soon as a reading is acknowledged;
- each well's newest *complete* hour of scores (``well_performance_hourly``). The hour in progress is
  left out on purpose, so a score is always of a whole hour;
- each well's average flow today over the complete hours since local midnight, from ``telemetry_hourly``;
- open alarms per well and severity.

Scores and today's flow only change when an hour completes (or late readings land in an earlier one), and
reading them for 2,000 wells costs 100–300 ms (up to 48,000 hourly rows by the end of the day), so the
whole fleet's are kept in the cache for ``FLEET_CACHE_SECONDS``: at most one request a minute pays for
them, the others read two cache entries. Newest readings and open alarms are always read fresh, so a new
reading or an acknowledgement shows at once.

Then plain Python: each well's operating status, the totals, filters and sort order.
"""

import contextlib
import dataclasses
import datetime
import zoneinfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from alarms.models import Alarm
from analytics.models import Severity
from analytics.rollups.definitions import RUNNING_CURRENT_A

# A newest reading older than this shows its age but no figures: they say nothing about the well now
# (and must not sort among the producing wells' flows).
FIGURES_WITHIN = datetime.timedelta(hours=2)
# How far back the newest complete hour of scores is looked for: the last two complete hours (a well
# silent for longer is stale anyway, and each extra hour is 2,000 more rollup rows to read).
SCORES_WITHIN = datetime.timedelta(hours=2)
# How long the fleet's scores and today's flow are kept in the cache (the rollups refresh every minute).
FLEET_CACHE_SECONDS = 60
_CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)

# Each active well with its newest reading, if it ever reported: one row of the latest state per well.
ACTIVE_WELLS_WITH_NEWEST_READING = """
SELECT w.id, w.well_id, w.name, w.field, w.latitude, w.longitude,
       l.time, l.flow_rate, l.motor_current, l.motor_temp
FROM wells_well w
LEFT JOIN telemetry_latestreading l ON l.well_id = w.id
WHERE w.status = 'active'
"""

# Each well's newest complete hour in [since, current hour), scored.
NEWEST_COMPLETE_HOUR_SCORES = """
SELECT DISTINCT ON (p.well_id) p.well_id, p.bucket, p.health_score, p.efficiency_score
FROM well_performance_hourly p
WHERE p.bucket >= %(since)s AND p.bucket < %(current_hour)s
ORDER BY p.well_id, p.bucket DESC
"""

# Each well's average flow (bbl/d) over the complete hours since local midnight, weighted by readings.
FLOW_TODAY = """
SELECT h.well_id, sum(h.avg_flow_rate * h.reading_count) / sum(h.reading_count) AS avg_flow_rate
FROM telemetry_hourly h
WHERE h.bucket >= %(midnight)s AND h.bucket < %(current_hour)s
GROUP BY h.well_id
"""

PRODUCING, NO_FLOW, DOWN, STALE, NO_DATA = "producing", "no_flow", "down", "stale", "no_data"
STATUS_LABELS = {PRODUCING: "Producing", NO_FLOW: "No flow", DOWN: "Down", STALE: "Stale", NO_DATA: "No data"}
# Needs attention first: alarms, then wells that don't report, then wells that are not producing.
STATUS_ATTENTION = {NO_DATA: 0, STALE: 1, NO_FLOW: 2, DOWN: 3, PRODUCING: 4}
# Below this flow (bbl/d) a running pump is not producing (a broken shaft, a gas lock, a closed valve).
PRODUCING_FLOW_BPD = 1.0


def stale_after():
    return datetime.timedelta(minutes=settings.DASHBOARD_STALE_AFTER_MINUTES)


@dataclasses.dataclass(slots=True)
class WellRow:
    """One active well as the fleet page shows it. Figures are None when unknown."""

    pk: int
    well_id: str
    name: str
    field: str
    latitude: float | None
    longitude: float | None
    reading_time: datetime.datetime | None = None
    flow_rate: float | None = None
    motor_current: float | None = None
    motor_temp: float | None = None
    age_seconds: float | None = None
    status: str = NO_DATA
    health: float | None = None
    efficiency: float | None = None
    flow_today: float | None = None
    critical: int = 0
    warning: int = 0
    unacknowledged: int = 0
    shelved: int = 0

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]

    @property
    def alarming(self):
        """Open alarms that are not shelved (shelved ones are parked on purpose)."""
        return self.critical + self.warning > 0

    @property
    def open_alarms(self):
        return self.critical + self.warning


def operating_status(reading_time, motor_current, flow_rate, now, stale=None):
    """What a well is doing now, judged from its newest reading (``reading_time`` None: it never reported).

    Down: the motor draws less than the running current (stopped or tripped); running, no flow: the motor
    runs but nothing reaches the surface. ``stale`` defaults to ``stale_after()``.
    """
    if reading_time is None:
        return NO_DATA
    if now - reading_time > (stale or stale_after()):
        return STALE
    if motor_current is None or motor_current < RUNNING_CURRENT_A:
        return DOWN
    if flow_rate is None or flow_rate < PRODUCING_FLOW_BPD:
        return NO_FLOW
    return PRODUCING


def _rows(query, params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def local_midnight(now):
    """Start of today in ANALYTICS_TIMEZONE (the local day daily rollups are cut on), as UTC."""
    tz = zoneinfo.ZoneInfo(settings.ANALYTICS_TIMEZONE)
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(datetime.UTC)


def _cached(key, compute, seconds=FLEET_CACHE_SECONDS):
    """``compute()``, kept under ``key`` for ``seconds``; computed afresh while Redis fails."""
    try:
        value = cache.get(key)
    except _CACHE_ERRORS:
        return compute()
    if value is None:
        value = compute()
        with contextlib.suppress(*_CACHE_ERRORS):
            cache.set(key, value, seconds)
    return value


def fleet_scores(current_hour):
    """{well pk: (health, efficiency)} of each well's newest complete hour before ``current_hour``."""
    params = {"since": current_hour - SCORES_WITHIN, "current_hour": current_hour}
    return {pk: (health, efficiency) for pk, _, health, efficiency in _rows(NEWEST_COMPLETE_HOUR_SCORES, params)}


def fleet_flow_today(midnight, current_hour):
    """{well pk: mean flow, bbl/d} over the complete hours from local ``midnight`` to ``current_hour``."""
    return dict(_rows(FLOW_TODAY, {"midnight": midnight, "current_hour": current_hour}))


def fleet_rows(now):
    """Every active well as a ``WellRow``, in no particular order. Two queries, and two more when the cached
    scores and flows have expired."""
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    rows = {}
    figures_since = now - FIGURES_WITHIN
    for pk, well_id, name, field, lat, lon, time, flow, current, temp in _rows(ACTIVE_WELLS_WITH_NEWEST_READING, {}):
        if time is not None and time < figures_since:
            flow = current = temp = None
        rows[pk] = WellRow(
            pk=pk,
            well_id=well_id,
            name=name,
            field=field,
            latitude=float(lat) if lat is not None else None,
            longitude=float(lon) if lon is not None else None,
            reading_time=time,
            flow_rate=flow,
            motor_current=current,
            motor_temp=temp,
        )
    stale = stale_after()
    for row in rows.values():
        row.status = operating_status(row.reading_time, row.motor_current, row.flow_rate, now, stale)
        if row.reading_time is not None:
            row.age_seconds = max(0.0, (now - row.reading_time).total_seconds())

    hour = current_hour.isoformat()
    scores = _cached(f"dashboards:fleet-scores:{hour}", lambda: fleet_scores(current_hour))
    midnight = local_midnight(now)
    flow_today = _cached(
        f"dashboards:fleet-flow-today:{midnight.isoformat()}:{hour}", lambda: fleet_flow_today(midnight, current_hour)
    )
    for pk, row in rows.items():
        row.health, row.efficiency = scores.get(pk, (None, None))
        row.flow_today = flow_today.get(pk)

    counts = (
        Alarm.objects.open()
        .values("well_id")
        .annotate(
            critical=Count("id", filter=Q(peak_severity=Severity.CRITICAL, shelved_until__isnull=True)),
            warning=Count("id", filter=Q(peak_severity=Severity.WARNING, shelved_until__isnull=True)),
            unacknowledged=Count("id", filter=Q(acknowledged=False, shelved_until__isnull=True)),
            shelved=Count("id", filter=~Q(shelved_until=None)),
        )
        .order_by()
    )
    for count in counts:
        row = rows.get(count["well_id"])
        if row is not None:
            row.critical, row.warning = count["critical"], count["warning"]
            row.unacknowledged, row.shelved = count["unacknowledged"], count["shelved"]
    return list(rows.values())


@dataclasses.dataclass(frozen=True)
class FleetTotals:
    wells: int
    producing: int
    down: int  # reporting but not producing: stopped, or running without flow
    not_reporting: int
    alarming: int
    critical_alarms: int
    warning_alarms: int
    flow_now_bpd: float
    flow_today_bpd: float | None


def fleet_totals(rows):
    """Totals over ``rows``: flow now counts producing wells' newest readings (stale ones are not "now")."""
    today = [row.flow_today for row in rows if row.flow_today is not None]
    return FleetTotals(
        wells=len(rows),
        producing=sum(row.status == PRODUCING for row in rows),
        down=sum(row.status in (DOWN, NO_FLOW) for row in rows),
        not_reporting=sum(row.status in (STALE, NO_DATA) for row in rows),
        alarming=sum(row.alarming for row in rows),
        critical_alarms=sum(row.critical for row in rows),
        warning_alarms=sum(row.warning for row in rows),
        flow_now_bpd=sum(row.flow_rate or 0.0 for row in rows if row.status == PRODUCING),
        flow_today_bpd=sum(today) if today else None,
    )


def filter_rows(rows, *, field="", status="", alarms=""):
    """The rows matching the fleet page's filters (empty: no filter)."""
    kept = rows
    if field:
        kept = [row for row in kept if row.field == field]
    if status:
        kept = [row for row in kept if row.status == status]
    if alarms == "alarming":
        kept = [row for row in kept if row.alarming]
    elif alarms == "critical":
        kept = [row for row in kept if row.critical]
    elif alarms == "warning":
        kept = [row for row in kept if row.warning]
    elif alarms == "none":
        kept = [row for row in kept if not row.alarming]
    return kept


def _missing_last(value, descending):
    """Sort key part that puts unknown values last whichever the direction."""
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)


def _attention_key(row):
    return (
        -row.critical,
        -row.warning,
        STATUS_ATTENTION[row.status],
        row.health if row.health is not None else 101.0,
        row.well_id,
    )


SORT_VALUES = {
    "flow": lambda row: row.flow_rate,
    "current": lambda row: row.motor_current,
    "temp": lambda row: row.motor_temp,
    "health": lambda row: row.health,
    "efficiency": lambda row: row.efficiency,
    "age": lambda row: row.age_seconds,
    "alarms": lambda row: float(row.critical * 1000 + row.warning),
}


def sort_rows(rows, sort="attention", direction="asc"):
    """``rows`` in the fleet page's order; ties by well ID. Unknown figures go last either way."""
    descending = direction == "desc"
    if sort == "attention":
        ordered = sorted(rows, key=_attention_key)
        return ordered[::-1] if descending else ordered
    if sort in ("well", "field", "status"):
        text = {
            "well": lambda row: (row.well_id,),
            "field": lambda row: (row.field, row.well_id),
            "status": lambda row: (STATUS_ATTENTION[row.status], row.well_id),
        }[sort]
        return sorted(rows, key=text, reverse=descending)
    value = SORT_VALUES[sort]
    by_id = sorted(rows, key=lambda row: row.well_id)
    return sorted(by_id, key=lambda row: _missing_last(value(row), descending))
