"""Rollups on plain PostgreSQL: tables refreshed incrementally, views that are always current.

Ingestion records which (well, hour) it changed in the telemetry change log, in the same
transaction as the readings. ``refresh`` claims those entries and recomputes exactly the hours —
and the local days containing them — from raw readings, so late and out-of-order readings land
without recomputing anything else. Until it has run, the views ``telemetry_hourly`` and
``telemetry_daily`` answer the still-pending buckets from raw readings and every other bucket from
the tables: a read is as current as the readings table, refreshed or not.

The tables are built by migration 0002; the views and the functions they call are defined here and
deployed by the migration named in ``DEPLOYED_BY``, which holds a literal copy of each.
"""

from django.db import connection, transaction

from analytics.rollups.definitions import DAILY_ROLLUP, HOURLY_ROLLUP, aggregates, select_list, typed

DEPLOYED_BY = "0005_pending_buckets_per_well_and_analytics_timezone"

HOURLY_TABLE = "analytics_telemetry_hourly_rollup"
DAILY_TABLE = "analytics_telemetry_daily_rollup"
CHANGES = "telemetry_readingchange"  # (well_id, hour): written by telemetry.ingest

# Serializes refreshes (beat every minute, plus manual runs) so two never claim the same entries.
REFRESH_LOCK = 0x45535052  # "ESPR"

# How many refreshed hours make the change log worth vacuuming, and the rollup tables worth
# analyzing, straight away: after a backfill the planner would otherwise misjudge both.
VACUUM_AFTER_HOURS = 10_000


def _pending_function(name, rollup, buckets, collect, span, condition=""):
    """The plpgsql function ``name``(well): the rollup's pending ``buckets`` of one well, computed from raw
    readings. ``collect`` fills the array ``buckets`` (timestamptz[]) from the change log; each bucket's
    readings lie in [bucket, bucket + ``span``), narrowed by ``condition``."""
    return f"""
CREATE OR REPLACE FUNCTION {name}(p_well bigint)
RETURNS TABLE (bucket timestamptz, {typed(rollup)})
LANGUAGE plpgsql STABLE AS $function$
DECLARE
    {buckets} timestamptz[];
BEGIN
    {collect}
    IF {buckets} IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
    SELECT p.bucket, raw.*
    FROM unnest($2) AS p (bucket)
    CROSS JOIN LATERAL (
        SELECT {aggregates(rollup)}
        FROM telemetry_reading r
        WHERE r.well_id = $1 AND r.time >= p.bucket AND r.time < p.bucket + interval '{span}'
{condition}          AND r.time >= $3 AND r.time < $4 + interval '{span}'
        HAVING count(*) > 0
    ) raw
    $query$ USING p_well, {buckets}, {buckets}[1], {buckets}[cardinality({buckets})];
END
$function$
"""


# Every pending hour of one well, aggregated from raw readings by one query. Dynamic SQL on purpose:
# EXECUTE plans with the actual bounds ($3, $4), so only the partitions between the well's oldest
# and newest pending hour are planned and locked (a cached plan locks every partition on every
# read). LATERAL makes each bucket one index range scan whatever the partitions' statistics say.
CREATE_HOURLY_PENDING = _pending_function(
    "telemetry_hourly_pending",
    HOURLY_ROLLUP,
    "hours",
    f"SELECT array_agg(DISTINCT c.hour ORDER BY c.hour) INTO hours FROM {CHANGES} c WHERE c.well_id = p_well;",
    "1 hour",
)

# The same for the local days (of analytics_timezone()) that contain a pending hour. An hour can
# straddle two local days where the offset is not whole hours (India, Nepal), hence both ends of
# each hour. A local day is 23 to 25 hours long: the range lets the index do the work and the
# date_trunc equality keeps exactly that day's readings.
CREATE_DAILY_PENDING = _pending_function(
    "telemetry_daily_pending",
    DAILY_ROLLUP,
    "days",
    f"""SELECT array_agg(DISTINCT d.day ORDER BY d.day) INTO days
    FROM {CHANGES} c,
         LATERAL (VALUES (date_trunc('day', c.hour, analytics_timezone())),
                         (date_trunc('day', c.hour + interval '1 hour' - interval '1 microsecond',
                                     analytics_timezone()))) AS d (day)
    WHERE c.well_id = p_well;""",
    "26 hours",
    "          AND date_trunc('day', r.time, analytics_timezone()) = p.bucket\n",
)

# Materialized rows whose bucket has no pending change, plus each pending well's pending buckets
# computed from raw readings. A filter on well_id reaches both arms.
HOURLY_VIEW = f"""
SELECT m.bucket, m.well_id, {select_list(HOURLY_ROLLUP, "m")}
FROM {HOURLY_TABLE} m
WHERE NOT EXISTS (SELECT 1 FROM {CHANGES} c WHERE c.well_id = m.well_id AND c.hour = m.bucket)
UNION ALL
SELECT raw.bucket, p.well_id, {select_list(HOURLY_ROLLUP, "raw")}
FROM (SELECT DISTINCT c.well_id FROM {CHANGES} c) p
CROSS JOIN LATERAL telemetry_hourly_pending(p.well_id) raw
"""

DAILY_VIEW = f"""
SELECT m.bucket, m.well_id, {select_list(DAILY_ROLLUP, "m")}
FROM {DAILY_TABLE} m
WHERE NOT EXISTS (
    SELECT 1 FROM {CHANGES} c
    WHERE c.well_id = m.well_id
      AND m.bucket IN (date_trunc('day', c.hour, analytics_timezone()),
                       date_trunc('day', c.hour + interval '1 hour' - interval '1 microsecond', analytics_timezone()))
)
UNION ALL
SELECT raw.bucket, p.well_id, {select_list(DAILY_ROLLUP, "raw")}
FROM (SELECT DISTINCT c.well_id FROM {CHANGES} c) p
CROSS JOIN LATERAL telemetry_daily_pending(p.well_id) raw
"""

# Claim every visible change entry (entries of ingests still in flight stay for the next run),
# then replace the claimed hours and days with aggregates of their raw readings. One transaction:
# readers see either the old rows plus pending entries or the new rows, never a gap. The temp
# tables are created first and filled by plain INSERTs so that every statement takes bound
# parameters (a CREATE TABLE … AS cannot).
CREATE_REFRESH_TABLES = (
    "CREATE TEMP TABLE refresh_hours (well_id bigint, bucket timestamptz) ON COMMIT DROP",
    "CREATE TEMP TABLE refresh_days (well_id bigint, bucket timestamptz) ON COMMIT DROP",
)

CLAIM_CHANGES = f"""
WITH claimed AS (DELETE FROM {CHANGES} RETURNING well_id, hour)
INSERT INTO refresh_hours
SELECT DISTINCT well_id, hour FROM claimed
"""

CLAIM_RANGE = f"""
WITH claimed AS (DELETE FROM {CHANGES} WHERE hour >= %(start)s AND hour < %(end)s RETURNING well_id, hour)
INSERT INTO refresh_hours
SELECT DISTINCT well_id, hour FROM claimed
UNION
SELECT DISTINCT r.well_id, date_trunc('hour', r.time, 'UTC') FROM telemetry_reading r
WHERE r.time >= %(start)s AND r.time < %(end)s
UNION
SELECT m.well_id, m.bucket FROM {HOURLY_TABLE} m WHERE m.bucket >= %(start)s AND m.bucket < %(end)s
"""

COUNT_REFRESH_HOURS = "SELECT count(*) FROM refresh_hours"

REFRESH_DAYS_FROM_HOURS = """
INSERT INTO refresh_days
SELECT well_id, date_trunc('day', bucket, analytics_timezone()) FROM refresh_hours
UNION
SELECT well_id, date_trunc('day', bucket + interval '1 hour' - interval '1 microsecond', analytics_timezone())
FROM refresh_hours
"""

DELETE_REFRESHED_HOURS = (
    f"DELETE FROM {HOURLY_TABLE} m USING refresh_hours p WHERE m.well_id = p.well_id AND m.bucket = p.bucket"
)

INSERT_REFRESHED_HOURS = f"""
INSERT INTO {HOURLY_TABLE} (bucket, well_id, {select_list(HOURLY_ROLLUP)})
SELECT p.bucket, p.well_id, {aggregates(HOURLY_ROLLUP)}
FROM refresh_hours p
JOIN telemetry_reading r
  ON r.well_id = p.well_id AND r.time >= p.bucket AND r.time < p.bucket + interval '1 hour'
GROUP BY p.bucket, p.well_id
"""

DELETE_REFRESHED_DAYS = (
    f"DELETE FROM {DAILY_TABLE} m USING refresh_days p WHERE m.well_id = p.well_id AND m.bucket = p.bucket"
)

INSERT_REFRESHED_DAYS = f"""
INSERT INTO {DAILY_TABLE} (bucket, well_id, {select_list(DAILY_ROLLUP)})
SELECT p.bucket, p.well_id, {aggregates(DAILY_ROLLUP)}
FROM refresh_days p
JOIN telemetry_reading r
  ON r.well_id = p.well_id AND r.time >= p.bucket AND r.time < p.bucket + interval '26 hours'
 AND date_trunc('day', r.time, analytics_timezone()) = p.bucket
GROUP BY p.bucket, p.well_id
"""

DROP_REFRESH_TABLES = ("DROP TABLE refresh_hours", "DROP TABLE refresh_days")

AFTER_BIG_REFRESH = (f"VACUUM (ANALYZE) {CHANGES}", f"ANALYZE {HOURLY_TABLE}", f"ANALYZE {DAILY_TABLE}")

NEWEST_MATERIALIZED = f"SELECT max(bucket) FROM {HOURLY_TABLE}"

DELETE_EXPIRED_HOURLY = f"DELETE FROM {HOURLY_TABLE} WHERE bucket < now() - %s * interval '1 day'"
DELETE_EXPIRED_DAILY = f"DELETE FROM {DAILY_TABLE} WHERE bucket < now() - %s * interval '1 day'"

DELETE_ORPHANS = (
    f"DELETE FROM {HOURLY_TABLE} m WHERE NOT EXISTS (SELECT 1 FROM wells_well w WHERE w.id = m.well_id)",
    f"DELETE FROM {DAILY_TABLE} m WHERE NOT EXISTS (SELECT 1 FROM wells_well w WHERE w.id = m.well_id)",
)


def definitions():
    """What this backend deploys besides the tables, as (kind, name, SQL): checked by analytics.checks."""
    return [
        ("function", "telemetry_hourly_pending", CREATE_HOURLY_PENDING),
        ("function", "telemetry_daily_pending", CREATE_DAILY_PENDING),
        ("view", "telemetry_hourly", HOURLY_VIEW),
        ("view", "telemetry_daily", DAILY_VIEW),
    ]


def refresh(start=None, end=None):
    """Recompute pending hours and days (or every bucket in [start, end)); returns what it did."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK])
        for statement in CREATE_REFRESH_TABLES:
            cursor.execute(statement)
        if start is None and end is None:
            cursor.execute(CLAIM_CHANGES)
        else:
            cursor.execute(CLAIM_RANGE, {"start": start, "end": end})
        cursor.execute(COUNT_REFRESH_HOURS)
        (hours,) = cursor.fetchone()
        if hours:
            cursor.execute(REFRESH_DAYS_FROM_HOURS)
            cursor.execute(DELETE_REFRESHED_HOURS)
            cursor.execute(INSERT_REFRESHED_HOURS)
            cursor.execute(DELETE_REFRESHED_DAYS)
            cursor.execute(INSERT_REFRESHED_DAYS)
        for statement in DROP_REFRESH_TABLES:
            cursor.execute(statement)
    if hours >= VACUUM_AFTER_HOURS and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            for statement in AFTER_BIG_REFRESH:
                cursor.execute(statement)
    return {"backend": "postgres", "hours": hours}


def expire(hourly_days, daily_days):
    """Delete rollup rows past their retention (0 days: kept for ever) and rows of deleted wells."""
    with connection.cursor() as cursor:
        cursor.execute(DELETE_EXPIRED_HOURLY, [hourly_days])
        if daily_days:
            cursor.execute(DELETE_EXPIRED_DAILY, [daily_days])
        for statement in DELETE_ORPHANS:
            cursor.execute(statement)
