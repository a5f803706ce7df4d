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

from django.db import connection
from psycopg2 import sql

from analytics.rollups.definitions import DAILY_AGGREGATES, HOURLY_AGGREGATES
from telemetry.storage.timescaledb import run_jobs

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
    run_policies = start is None and end is None
    if end is None:
        cursor.execute("SELECT date_trunc('hour', now())")
        (end,) = cursor.fetchone()
    for name in ("telemetry_hourly", "telemetry_daily"):
        cursor.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", [name, start, end])
    if run_policies:
        # The refresh policies run here too (TimescaleDB 2.28's scheduler fails them on PostgreSQL
        # 15.20+); after the refresh above they find little left to do.
        run_rollup_policies(REFRESH_POLICY)


# The watermark: everything before it is materialized. No row before the first refresh, when the
# watermark is 4714 BC (which psycopg 3 refuses to read as a datetime).
NEWEST_MATERIALIZED = """
SELECT watermark
FROM _timescaledb_catalog.continuous_agg c,
     _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)) AS watermark
WHERE c.user_view_name = 'telemetry_hourly' AND watermark > '1900-01-01 00:00Z'
"""

REFRESH_POLICY = "policy_refresh_continuous_aggregate"
RETENTION_POLICY = "policy_retention"

# The rollups' policy jobs of one kind (REFRESH_POLICY or RETENTION_POLICY).
ROLLUP_POLICY_JOB_IDS = """
SELECT job_id FROM timescaledb_information.jobs
WHERE hypertable_name IN ('telemetry_hourly', 'telemetry_daily') AND proc_name = %s
ORDER BY job_id
"""


def run_rollup_policies(proc_name):
    """Run the rollups' policy jobs of one kind now and record their outcomes (not in a transaction).

    The platform runs them itself because TimescaleDB 2.28's scheduler fails them on PostgreSQL 15.20+;
    the refresh policies after every ``refresh()`` without a range, the retention policies from
    ``expire_rollups`` (daily).
    """
    with connection.cursor() as cursor:
        cursor.execute(ROLLUP_POLICY_JOB_IDS, [proc_name])
        jobs = [job_id for (job_id,) in cursor.fetchall()]
    return run_jobs(jobs)
