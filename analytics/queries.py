"""Reads of the rollups for the analytics API and dashboards: plain SQL, plain dict rows.

Every query names the columns it returns and filters on (well, bucket), which is what the rollups
are keyed and indexed by; no model instances are built. Rows carry timestamps as aware UTC
datetimes (the API renders them as ISO 8601 with ``Z``).
"""

from django.db import connection

from analytics.rollups.definitions import DAILY_ROLLUP, HOURLY_ROLLUP, aggregates, folded, select_list

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

# Each well's newest performance row since %(since)s.
_LATEST_PER_WELL = f"""
SELECT w.well_id, w.name, w.field, w.status, p.bucket, {_PERFORMANCE_COLUMNS}
FROM wells_well w
JOIN LATERAL (
    SELECT * FROM well_performance_hourly p
    WHERE p.well_id = w.id AND p.bucket >= %(since)s
    ORDER BY p.bucket DESC
    LIMIT 1
) p ON true
"""

OVERVIEW = f"{_LATEST_PER_WELL} WHERE w.status = 'active' ORDER BY w.well_id"

# Sorted over every well first, then limited (the original platform limited first, so its
# "top 10" was ten arbitrary wells sorted).
RANKING = {
    ("efficiency", "desc"): f"{_LATEST_PER_WELL} ORDER BY p.efficiency_score DESC, w.well_id LIMIT %(limit)s",
    ("efficiency", "asc"): f"{_LATEST_PER_WELL} ORDER BY p.efficiency_score ASC, w.well_id LIMIT %(limit)s",
    ("health", "desc"): f"{_LATEST_PER_WELL} ORDER BY p.health_score DESC, w.well_id LIMIT %(limit)s",
    ("health", "asc"): f"{_LATEST_PER_WELL} ORDER BY p.health_score ASC, w.well_id LIMIT %(limit)s",
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
