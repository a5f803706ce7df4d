"""Rollups on plain PostgreSQL: tables refreshed incrementally, views that are always current.

Ingestion records which (well, hour) it changed in the telemetry change log, in the same
transaction as the readings. ``refresh`` claims those entries and recomputes exactly the hours —
and the local days containing them — from raw readings, so late and out-of-order readings land
without recomputing anything else. Until it has run, the views ``telemetry_hourly`` and
``telemetry_daily`` answer the still-pending buckets from raw readings and every other bucket from
the tables: a read is as current as the readings table, refreshed or not.
"""

from psycopg import sql

from analytics.rollups.definitions import DAILY_AGGREGATES, DAILY_COLUMNS, HOURLY_AGGREGATES, HOURLY_COLUMNS

HOURLY_TABLE = "analytics_telemetry_hourly_rollup"
DAILY_TABLE = "analytics_telemetry_daily_rollup"
CHANGES = "telemetry_readingchange"  # (well_id, hour): written by telemetry.ingest

# Serializes refreshes (beat every minute, plus manual runs) so two never claim the same entries.
REFRESH_LOCK = 0x45535052  # "ESPR"

_HOURLY_TYPES = {"reading_count": "bigint NOT NULL", "first_reading": "timestamptz", "last_reading": "timestamptz"}
_DAILY_TYPES = {"reading_count": "bigint NOT NULL"}


# No foreign key to wells_well: rollups are derived data, readers reach them through a well, and
# the rows of a deleted well are removed by ``DELETE_ORPHANS`` during maintenance. (A foreign key
# would also stop Django's test flush from truncating wells, since these tables are not models.)
def _table_ddl(name, columns, types):
    body = ",\n    ".join(f"{column} {types.get(column, 'double precision')}" for column in columns)
    return f"""
CREATE TABLE {name} (
    bucket timestamptz NOT NULL,
    well_id bigint NOT NULL,
    {body},
    PRIMARY KEY (well_id, bucket)
)"""


_hourly_list = ", ".join(f"m.{c}" for c in HOURLY_COLUMNS)
_daily_list = ", ".join(f"m.{c}" for c in DAILY_COLUMNS)


def _returns(columns, types):
    return ", ".join(
        f"{column} {types.get(column, 'double precision').removesuffix(' NOT NULL')}" for column in columns
    )


# One pending bucket aggregated from raw readings. PL/pgSQL on purpose: the views below call these
# only for pending buckets, so a read that has none never plans the readings table, and one that
# has some plans the few partitions its bucket touches — instead of planning a join over every
# partition on every read (tens of milliseconds with a year of daily partitions).
CREATE_HOURLY_FROM_RAW = f"""
CREATE OR REPLACE FUNCTION telemetry_hourly_from_raw(p_well bigint, p_bucket timestamptz)
RETURNS TABLE ({_returns(HOURLY_COLUMNS, _HOURLY_TYPES)})
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT {HOURLY_AGGREGATES}
    FROM telemetry_reading r
    WHERE r.well_id = p_well AND r.time >= p_bucket AND r.time < p_bucket + interval '1 hour'
    HAVING count(*) > 0;
END $$
"""

# A local day is 23 to 25 hours long; the range lets the index do the work and the date_trunc
# equality keeps exactly that day's readings.
CREATE_DAILY_FROM_RAW = f"""
CREATE OR REPLACE FUNCTION telemetry_daily_from_raw(p_well bigint, p_day timestamptz, p_timezone text)
RETURNS TABLE ({_returns(DAILY_COLUMNS, _DAILY_TYPES)})
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT {DAILY_AGGREGATES}
    FROM telemetry_reading r
    WHERE r.well_id = p_well AND r.time >= p_day AND r.time < p_day + interval '26 hours'
      AND date_trunc('day', r.time, p_timezone) = p_day
    HAVING count(*) > 0;
END $$
"""

# Materialized rows whose bucket has no pending change, plus pending buckets computed from raw
# readings. Filters on well_id and bucket reach both arms, so a read touches only its own rows.
CREATE_HOURLY_VIEW = f"""
CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT m.bucket, m.well_id, {_hourly_list}
FROM {HOURLY_TABLE} m
WHERE NOT EXISTS (SELECT 1 FROM {CHANGES} c WHERE c.well_id = m.well_id AND c.hour = m.bucket)
UNION ALL
SELECT p.bucket, p.well_id, raw.*
FROM (SELECT DISTINCT c.well_id, c.hour AS bucket FROM {CHANGES} c) p
CROSS JOIN LATERAL telemetry_hourly_from_raw(p.well_id, p.bucket) raw
"""


def _local_days_of_hours(relation, hour):
    """SQL for the distinct (well_id, local day start) of the (well_id, ``hour``) rows of ``relation``.

    An hour can straddle two local days where the offset is not whole hours (India, Nepal), hence
    both ends of each hour. ``{tz}`` is left for the caller to bind.
    """
    return f"""
SELECT well_id, date_trunc('day', {hour}, {{tz}}) AS bucket FROM {relation}
UNION
SELECT well_id, date_trunc('day', {hour} + interval '1 hour' - interval '1 microsecond', {{tz}}) FROM {relation}
"""


# The local days that contain a changed hour.
_PENDING_DAYS = _local_days_of_hours(CHANGES, "hour")

CREATE_DAILY_VIEW = f"""
CREATE OR REPLACE VIEW telemetry_daily AS
SELECT m.bucket, m.well_id, {_daily_list}
FROM {DAILY_TABLE} m
WHERE NOT EXISTS (
    SELECT 1 FROM ({_PENDING_DAYS}) p WHERE p.well_id = m.well_id AND p.bucket = m.bucket
)
UNION ALL
SELECT p.bucket, p.well_id, raw.*
FROM ({_PENDING_DAYS}) p
CROSS JOIN LATERAL telemetry_daily_from_raw(p.well_id, p.bucket, {{tz}}) raw
"""


def install_views(cursor, timezone):
    """(Re)create the real-time views and the functions they call; safe to run again."""
    cursor.execute(CREATE_HOURLY_FROM_RAW)
    cursor.execute(CREATE_DAILY_FROM_RAW)
    cursor.execute(CREATE_HOURLY_VIEW)
    cursor.execute(sql.SQL(CREATE_DAILY_VIEW).format(tz=sql.Literal(timezone)))


def create(cursor, timezone):
    """Build the rollup tables and views (run by the analytics migration)."""
    cursor.execute(_table_ddl(HOURLY_TABLE, HOURLY_COLUMNS, _HOURLY_TYPES))
    cursor.execute(_table_ddl(DAILY_TABLE, DAILY_COLUMNS, _DAILY_TYPES))
    cursor.execute(f"CREATE INDEX {HOURLY_TABLE}_bucket ON {HOURLY_TABLE} (bucket)")
    cursor.execute(f"CREATE INDEX {DAILY_TABLE}_bucket ON {DAILY_TABLE} (bucket)")
    install_views(cursor, timezone)


def drop(cursor):
    cursor.execute(
        f"DROP VIEW IF EXISTS telemetry_daily; DROP VIEW IF EXISTS telemetry_hourly;"
        f" DROP FUNCTION IF EXISTS telemetry_daily_from_raw; DROP FUNCTION IF EXISTS telemetry_hourly_from_raw;"
        f" DROP TABLE IF EXISTS {DAILY_TABLE}; DROP TABLE IF EXISTS {HOURLY_TABLE};"
    )


# Claim every visible change entry (entries of ingests still in flight stay for the next run),
# then replace the claimed hours and days with aggregates of their raw readings. One transaction:
# readers see either the old rows plus pending entries or the new rows, never a gap.
CLAIM_CHANGES = f"""
CREATE TEMP TABLE refresh_hours ON COMMIT DROP AS
WITH claimed AS (DELETE FROM {CHANGES} RETURNING well_id, hour)
SELECT DISTINCT well_id, hour AS bucket FROM claimed
"""

CLAIM_RANGE = f"""
CREATE TEMP TABLE refresh_hours ON COMMIT DROP AS
WITH claimed AS (DELETE FROM {CHANGES} WHERE hour >= %(start)s AND hour < %(end)s RETURNING well_id, hour)
SELECT DISTINCT well_id, hour AS bucket FROM claimed
UNION
SELECT DISTINCT r.well_id, date_trunc('hour', r.time) FROM telemetry_reading r
WHERE r.time >= %(start)s AND r.time < %(end)s
UNION
SELECT m.well_id, m.bucket FROM {HOURLY_TABLE} m WHERE m.bucket >= %(start)s AND m.bucket < %(end)s
"""

REFRESH_DAYS_FROM_HOURS = "CREATE TEMP TABLE refresh_days ON COMMIT DROP AS" + _local_days_of_hours(
    "refresh_hours", "bucket"
)

REPLACE_HOURS = f"""
DELETE FROM {HOURLY_TABLE} m USING refresh_hours p WHERE m.well_id = p.well_id AND m.bucket = p.bucket;
INSERT INTO {HOURLY_TABLE} (bucket, well_id, {", ".join(HOURLY_COLUMNS)})
SELECT p.bucket, p.well_id, {HOURLY_AGGREGATES}
FROM refresh_hours p
JOIN telemetry_reading r
  ON r.well_id = p.well_id AND r.time >= p.bucket AND r.time < p.bucket + interval '1 hour'
GROUP BY p.bucket, p.well_id;
"""

REPLACE_DAYS = f"""
DELETE FROM {DAILY_TABLE} m USING refresh_days p WHERE m.well_id = p.well_id AND m.bucket = p.bucket;
INSERT INTO {DAILY_TABLE} (bucket, well_id, {", ".join(DAILY_COLUMNS)})
SELECT p.bucket, p.well_id, {DAILY_AGGREGATES}
FROM refresh_days p
JOIN telemetry_reading r
  ON r.well_id = p.well_id AND r.time >= p.bucket AND r.time < p.bucket + interval '26 hours'
 AND date_trunc('day', r.time, {{tz}}) = p.bucket
GROUP BY p.bucket, p.well_id;
"""


def refresh(cursor, timezone, start=None, end=None):
    """Recompute pending hours and days (or every bucket in [start, end)); returns hours refreshed.

    Must run inside a transaction (the caller's ``transaction.atomic``).
    """
    tz = sql.Literal(timezone)
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK])
    if start is None and end is None:
        cursor.execute(CLAIM_CHANGES)
    else:
        cursor.execute(CLAIM_RANGE, {"start": start, "end": end})
    cursor.execute("SELECT count(*) FROM refresh_hours")
    (hours,) = cursor.fetchone()
    if hours:
        cursor.execute(sql.SQL(REFRESH_DAYS_FROM_HOURS).format(tz=tz))
        cursor.execute(REPLACE_HOURS)
        cursor.execute(sql.SQL(REPLACE_DAYS).format(tz=tz))
    cursor.execute("DROP TABLE refresh_hours; DROP TABLE IF EXISTS refresh_days")
    return hours


NEWEST_MATERIALIZED = f"SELECT max(bucket) FROM {HOURLY_TABLE}"

VACUUM_CHANGES = f"VACUUM (ANALYZE) {CHANGES}"

DELETE_EXPIRED_HOURLY = f"DELETE FROM {HOURLY_TABLE} WHERE bucket < now() - %s * interval '1 day'"
DELETE_EXPIRED_DAILY = f"DELETE FROM {DAILY_TABLE} WHERE bucket < now() - %s * interval '1 day'"

DELETE_ORPHANS = f"""
DELETE FROM {HOURLY_TABLE} m WHERE NOT EXISTS (SELECT 1 FROM wells_well w WHERE w.id = m.well_id);
DELETE FROM {DAILY_TABLE} m WHERE NOT EXISTS (SELECT 1 FROM wells_well w WHERE w.id = m.well_id);
"""
