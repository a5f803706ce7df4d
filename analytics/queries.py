"""Reads of the rollups for the analytics API and dashboards: plain SQL, plain dict rows.

Every per-well query names the columns it returns and filters on (well, bucket), which is what the
rollups are keyed and indexed by; the fleet overview and rankings read each well's latest state
instead (one row per well). No model instances are built. Rows carry timestamps as aware UTC
datetimes (the API renders them as ISO 8601 with ``Z``).
"""

from django.db import connection

from analytics.rollups.definitions import DAILY_ROLLUP, HOURLY_ROLLUP, aggregates, folded, select_list
from analytics.scoring import EFFICIENCY_SQL, HEALTH_SQL

HOURLY = f"""
SELECT bucket, {select_list(HOURLY_ROLLUP)}
FROM telemetry_hourly
WHERE well_id = %(well)s AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY bucket DESC
"""

# Finer than stored: 15-minute buckets straight from raw readings (short windows only).
RAW_QUARTER_HOURLY = f"""
SELECT date_bin(interval '15 minutes', r.time, timestamptz '2000-01-01') AS bucket, {aggregates(HOURLY_ROLLUP)}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1
ORDER BY 1 DESC
"""

# Coarser than stored: hourly rows folded into local days (see definitions.folded).
HOURLY_FOLDED_TO_DAYS = f"""
SELECT date_trunc('day', bucket, analytics_timezone()) AS bucket, {folded(HOURLY_ROLLUP)}
FROM telemetry_hourly
WHERE well_id = %(well)s AND bucket >= %(start)s AND bucket < %(end)s
GROUP BY 1
ORDER BY 1 DESC
"""

DAILY = f"""
SELECT bucket, (bucket AT TIME ZONE analytics_timezone())::date AS local_date, {select_list(DAILY_ROLLUP)}
FROM telemetry_daily
WHERE well_id = %(well)s AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY bucket DESC
"""

_PERFORMANCE_COLUMNS = """
    p.efficiency_score, p.health_score, p.avg_flow_rate, p.avg_motor_current, p.avg_motor_temp,
    p.max_motor_temp, p.avg_vibration, p.reading_count
"""

PERFORMANCE = f"""
SELECT p.bucket, {_PERFORMANCE_COLUMNS}
FROM well_performance_hourly p
WHERE p.well_id = %(well)s AND p.bucket >= %(start)s AND p.bucket < %(end)s
ORDER BY p.bucket DESC
"""

DIAGNOSTICS = """
SELECT bucket, (bucket AT TIME ZONE analytics_timezone())::date AS local_date,
       severity, issue_count, unique_issues, issue_types
FROM diagnostic_summary_daily
WHERE well_id = %(well)s AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY bucket DESC,
         CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END
"""

# Each well whose newest hour started at or after %(since)s, with that hour scored, read from the wells'
# latest state (telemetry.models.LatestReading, kept by ingest): the same hour and averages as the newest
# bucket of well_performance_hourly, from one row per well instead of aggregating that hour's raw
# readings, so the cost stays flat however many readings the hour holds. Scored by the same formulas
# (analytics.scoring) against the same specifications.
_LATEST_PER_WELL = f"""
SELECT s.well_id, s.name, s.field, s.status, h.bucket,
       {EFFICIENCY_SQL} AS efficiency_score,
       {HEALTH_SQL} AS health_score,
       h.avg_flow_rate, h.avg_motor_current, h.avg_motor_temp, h.max_motor_temp, h.avg_vibration, h.reading_count
FROM telemetry_latestreading l
JOIN wells_well s ON s.id = l.well_id
CROSS JOIN LATERAL (
    SELECT l.hour AS bucket,
           l.hour_flow_rate_sum / l.hour_reading_count AS avg_flow_rate,
           l.hour_motor_current_sum / l.hour_reading_count AS avg_motor_current,
           l.hour_motor_temp_sum / nullif(l.hour_motor_temp_count, 0) AS avg_motor_temp,
           l.hour_motor_temp_max AS max_motor_temp,
           l.hour_vibration_sum / nullif(l.hour_vibration_count, 0) AS avg_vibration,
           l.hour_reading_count AS reading_count
) h
WHERE l.hour >= %(since)s
"""

OVERVIEW = f"{_LATEST_PER_WELL} AND s.status = 'active' ORDER BY s.well_id"

# Sorted over every well first, then limited (the original platform limited first, so its
# "top 10" was ten arbitrary wells sorted).
RANKING = {
    ("efficiency", "desc"): f"{_LATEST_PER_WELL} ORDER BY efficiency_score DESC, s.well_id LIMIT %(limit)s",
    ("efficiency", "asc"): f"{_LATEST_PER_WELL} ORDER BY efficiency_score ASC, s.well_id LIMIT %(limit)s",
    ("health", "desc"): f"{_LATEST_PER_WELL} ORDER BY health_score DESC, s.well_id LIMIT %(limit)s",
    ("health", "asc"): f"{_LATEST_PER_WELL} ORDER BY health_score ASC, s.well_id LIMIT %(limit)s",
}


def fetch_rows(query, params):
    """Run ``query`` and return its rows as dicts keyed by column name."""
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def hourly_telemetry(well, start, end, bucket="1h"):
    query = {"1h": HOURLY, "15m": RAW_QUARTER_HOURLY, "1d": HOURLY_FOLDED_TO_DAYS}[bucket]
    return fetch_rows(query, {"well": well.pk, "start": start, "end": end})


def daily_telemetry(well, start, end):
    return fetch_rows(DAILY, {"well": well.pk, "start": start, "end": end})


def well_performance(well, start, end):
    return fetch_rows(PERFORMANCE, {"well": well.pk, "start": start, "end": end})


def diagnostic_summary(well, start, end):
    return fetch_rows(DIAGNOSTICS, {"well": well.pk, "start": start, "end": end})


def fleet_overview(since):
    return fetch_rows(OVERVIEW, {"since": since})


def ranking(score, order, limit, since):
    return fetch_rows(RANKING[(score, order)], {"since": since, "limit": limit})
