"""Efficiency and health rankings over the active fleet, with each listed well's 30-day trend.

The ranking is of each well's newest complete hour of scores (as on the fleet page), sorted over the
whole fleet before a page is cut; the trend is the daily mean of the hourly scores over the last 30
local days, read for the wells on the page only (and cached per well within the hour), and drawn as a
sparkline on a fixed 0–100 scale so that trends of different wells compare at a glance.
"""

import contextlib
import dataclasses
import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from dashboards.fleet import SCORES_WITHIN

SCORES = ("efficiency", "health")
TREND_DAYS = 30
TREND_CACHE_SECONDS = 15 * 60
_CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)

# Active wells with their newest complete hour of scores in [since, current hour).
SCORED_ACTIVE_WELLS = """
SELECT w.id, w.well_id, w.name, w.field, s.bucket, s.efficiency_score, s.health_score
FROM wells_well w
JOIN (
    SELECT DISTINCT ON (p.well_id) p.well_id, p.bucket, p.efficiency_score, p.health_score
    FROM well_performance_hourly p
    WHERE p.bucket >= %(since)s AND p.bucket < %(current_hour)s
    ORDER BY p.well_id, p.bucket DESC
) s ON s.well_id = w.id
WHERE w.status = 'active'
"""

# Daily means of the hourly scores of some wells, per local day of ANALYTICS_TIMEZONE.
DAILY_SCORES = """
SELECT p.well_id, date_trunc('day', p.bucket, %(tz)s) AS day,
       avg(p.efficiency_score) AS efficiency, avg(p.health_score) AS health
FROM well_performance_hourly p
WHERE p.well_id = ANY(%(wells)s) AND p.bucket >= %(since)s AND p.bucket < %(current_hour)s
GROUP BY 1, 2
ORDER BY 1, 2
"""


@dataclasses.dataclass
class RankedWell:
    pk: int
    well_id: str
    name: str
    field: str
    scored_hour: datetime.datetime
    efficiency: float
    health: float
    rank: int = 0
    trend: object = None  # a Sparkline once read


@dataclasses.dataclass(frozen=True)
class Sparkline:
    """A 30-day trend: SVG polyline points on a 0–100 scale, and the words for it."""

    points: str
    first: float
    last: float
    low: float
    high: float
    days: int
    width: int = 120
    height: int = 28

    @property
    def change(self):
        return self.last - self.first

    @property
    def summary(self):
        return (
            f"{self.days}-day trend from {self.first:.0f} to {self.last:.0f} "
            f"(lowest {self.low:.0f}, highest {self.high:.0f})"
        )


def _fetch(query, params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def ranked_wells(score, order, now):
    """Every active well with a score, ranked by ``score`` ("efficiency" or "health"); ``order`` "desc"
    puts the best first. Ties by well ID. One query."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}")
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    wells = [
        RankedWell(pk, well_id, name, field, bucket, efficiency, health)
        for pk, well_id, name, field, bucket, efficiency, health in _fetch(
            SCORED_ACTIVE_WELLS, {"since": current_hour - SCORES_WITHIN, "current_hour": current_hour}
        )
    ]
    wells.sort(key=lambda w: w.well_id)
    wells.sort(key=lambda w: getattr(w, score), reverse=order == "desc")
    for rank, well in enumerate(wells, start=1):
        well.rank = rank
    return wells


def sparkline(values, width=120, height=28):
    """The sparkline of ``values`` (daily scores 0–100, oldest first); None for fewer than two."""
    if len(values) < 2:
        return None
    step = (width - 4) / (len(values) - 1)
    points = " ".join(
        f"{2 + i * step:.1f},{2 + (height - 4) * (1 - min(max(v, 0), 100) / 100):.1f}" for i, v in enumerate(values)
    )
    return Sparkline(points, values[0], values[-1], min(values), max(values), len(values), width, height)


def attach_trends(wells, score, now):
    """Sets each of ``wells``' ``trend``: its 30-day daily ``score`` trend. The daily means move slowly and
    cost about 7 ms a well to compute (30 days of scored hours), so each well's is kept in the cache for
    ``TREND_CACHE_SECONDS``; the wells missing from it are read in one query."""
    if not wells:
        return
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    keys = {well.pk: f"dashboards:trend:{current_hour.isoformat()}:{well.pk}" for well in wells}
    try:
        known = cache.get_many(list(keys.values()))
    except _CACHE_ERRORS:
        known = {}
    series = {pk: known[key] for pk, key in keys.items() if key in known}
    missing = [pk for pk in keys if pk not in series]
    if missing:
        read = {pk: {"efficiency": [], "health": []} for pk in missing}
        for pk, _day, efficiency, health in _fetch(
            DAILY_SCORES,
            {
                "wells": missing,
                "since": current_hour - datetime.timedelta(days=TREND_DAYS),
                "current_hour": current_hour,
                "tz": settings.ANALYTICS_TIMEZONE,
            },
        ):
            read[pk]["efficiency"].append(efficiency)
            read[pk]["health"].append(health)
        series.update(read)
        with contextlib.suppress(*_CACHE_ERRORS):
            cache.set_many({keys[pk]: values for pk, values in read.items()}, TREND_CACHE_SECONDS)
    for well in wells:
        well.trend = sparkline(series[well.pk][score])
