"""Rollups on TimescaleDB: continuous aggregates, real time, refreshed by policies.

``materialized_only = false`` makes each aggregate answer buckets past its watermark from raw
readings, so new data shows at once. Late readings *behind* the watermark invalidate their buckets
in TimescaleDB's own log and show after the next refresh (the policy, ``run_job``, or
``refresh_rollups``), which recomputes only invalidated buckets.

The daily aggregate buckets by local day with ``time_bucket(…, timezone)``; the time zone is fixed
when the aggregate is created (changing ``ANALYTICS_TIMEZONE`` later needs a rebuild).
``CREATE MATERIALIZED VIEW … WITH DATA`` and ``CALL refresh_continuous_aggregate`` cannot run in a
transaction, so the aggregates are created ``WITH NO DATA`` and refreshed outside one.
"""

from psycopg import sql

from analytics.rollups.definitions import DAILY_AGGREGATES, HOURLY_AGGREGATES

CREATE_HOURLY = f"""
CREATE MATERIALIZED VIEW telemetry_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 hour', r.time) AS bucket, r.well_id, {HOURLY_AGGREGATES}
FROM telemetry_reading r
GROUP BY 1, 2
WITH NO DATA
"""

CREATE_DAILY = f"""
CREATE MATERIALIZED VIEW telemetry_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 day', r.time, {{tz}}) AS bucket, r.well_id, {DAILY_AGGREGATES}
FROM telemetry_reading r
GROUP BY 1, 2
WITH NO DATA
"""

# Refresh every minute up to the current hour (day); start_offset NULL lets late readings of any
# age be picked up — only invalidated buckets are recomputed, so this stays cheap.
ADD_POLICIES = """
SELECT add_continuous_aggregate_policy('telemetry_hourly',
    start_offset => NULL, end_offset => interval '1 hour', schedule_interval => interval '1 minute');
SELECT add_continuous_aggregate_policy('telemetry_daily',
    start_offset => NULL, end_offset => interval '1 hour', schedule_interval => interval '5 minutes');
SELECT add_retention_policy('telemetry_hourly', drop_after => %(hourly_days)s * interval '1 day');
"""

ADD_DAILY_RETENTION = "SELECT add_retention_policy('telemetry_daily', drop_after => %(daily_days)s * interval '1 day')"


def create(cursor, timezone, hourly_retention_days, daily_retention_days):
    cursor.execute(CREATE_HOURLY)
    cursor.execute(sql.SQL(CREATE_DAILY).format(tz=sql.Literal(timezone)))
    cursor.execute(ADD_POLICIES, {"hourly_days": hourly_retention_days})
    if daily_retention_days:
        cursor.execute(ADD_DAILY_RETENTION, {"daily_days": daily_retention_days})


def drop(cursor):
    cursor.execute(
        "DROP MATERIALIZED VIEW IF EXISTS telemetry_daily; DROP MATERIALIZED VIEW IF EXISTS telemetry_hourly;"
    )


def refresh(cursor, start=None, end=None):
    """Refresh both aggregates over [start, end); by default everything up to the current hour.

    Not in a transaction. Only buckets wholly inside the window are materialized, and the window
    stops at the current hour on purpose: a materialized bucket moves the watermark past it, and
    readings arriving later in that hour would then wait for the next refresh instead of showing
    in real time.
    """
    # Ingestion's change log is not needed here (TimescaleDB tracks its own invalidations); empty
    # it so it does not grow.
    cursor.execute("DELETE FROM telemetry_readingchange")
    if end is None:
        cursor.execute("SELECT date_trunc('hour', now())")
        (end,) = cursor.fetchone()
    for name in ("telemetry_hourly", "telemetry_daily"):
        cursor.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", [name, start, end])


# The watermark: everything before it is materialized.
NEWEST_MATERIALIZED = """
SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id))
FROM _timescaledb_catalog.continuous_agg c
WHERE c.user_view_name = 'telemetry_hourly'
"""
