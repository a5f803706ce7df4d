"""Rollups on TimescaleDB: continuous aggregates, real time, refreshed by policies.

``materialized_only = false`` makes each aggregate answer buckets past its watermark from raw
readings, so new data shows at once. Late readings *behind* the watermark invalidate their buckets
in TimescaleDB's own log and show after the next refresh (the policy, ``run_job``, or
``refresh_rollups``), which recomputes only invalidated buckets.

The aggregates are built by migration 0002. The daily one buckets by local day with
``time_bucket(…, timezone)``, the time zone fixed when it was created (changing
``ANALYTICS_TIMEZONE`` later needs a rebuild; ``analytics.checks`` reports the mismatch).
``CALL refresh_continuous_aggregate`` cannot run in a transaction.
"""

from django.db import connection

from telemetry.storage.timescaledb import run_jobs

# Nothing backend-specific deployed after 0002 (the shared views are in ``shared``).
DEPLOYED_BY = "0002_create_rollups"

# Ingestion's change log is not needed here (TimescaleDB tracks its own invalidations); the refresh
# empties it so it does not grow.
EMPTY_CHANGES = "DELETE FROM telemetry_readingchange"

CURRENT_HOUR = "SELECT date_trunc('hour', now())"

REFRESH_AGGREGATE = "CALL refresh_continuous_aggregate(%s, %s, %s)"

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


def definitions():
    """What this backend deploys besides the shared views: nothing compared (see module docstring)."""
    return []


def refresh(start=None, end=None):
    """Refresh both aggregates over [start, end); by default everything up to the current hour.

    Not in a transaction. Only buckets wholly inside the window are materialized, and the window
    stops at the current hour on purpose: a materialized bucket moves the watermark past it, and
    readings arriving later in that hour would then wait for the next refresh instead of showing
    in real time.
    """
    run_policies = start is None and end is None
    with connection.cursor() as cursor:
        cursor.execute(EMPTY_CHANGES)
        if end is None:
            cursor.execute(CURRENT_HOUR)
            (end,) = cursor.fetchone()
        for name in ("telemetry_hourly", "telemetry_daily"):
            cursor.execute(REFRESH_AGGREGATE, [name, start, end])
    if run_policies:
        # The refresh policies run here too (TimescaleDB 2.28's scheduler fails them on PostgreSQL
        # 15.20+); after the refresh above they find little left to do.
        run_rollup_policies(REFRESH_POLICY)
    return {"backend": "timescaledb"}


def expire(hourly_days, daily_days):
    """Run the rollups' retention policies (created by migration 0002 with the retention of the day)."""
    run_rollup_policies(RETENTION_POLICY)


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
