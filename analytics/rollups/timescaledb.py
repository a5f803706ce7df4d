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

# Nothing backend-specific deployed after 0002 (the shared views are in ``shared``).
DEPLOYED_BY = "0002_create_rollups"

# Ingestion's change log is not needed here (TimescaleDB tracks its own invalidations); the refresh
# empties it so it does not grow.
EMPTY_CHANGES = "DELETE FROM telemetry_readingchange"

CURRENT_HOUR = "SELECT date_trunc('hour', now())"

REFRESH_AGGREGATE = "CALL refresh_continuous_aggregate(%s, %s, %s)"

# The watermark: everything before it is materialized.
NEWEST_MATERIALIZED = """
SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id))
FROM _timescaledb_catalog.continuous_agg c
WHERE c.user_view_name = 'telemetry_hourly'
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
    with connection.cursor() as cursor:
        cursor.execute(EMPTY_CHANGES)
        if end is None:
            cursor.execute(CURRENT_HOUR)
            (end,) = cursor.fetchone()
        for name in ("telemetry_hourly", "telemetry_daily"):
            cursor.execute(REFRESH_AGGREGATE, [name, start, end])
    return {"backend": "timescaledb"}


def expire(hourly_days, daily_days):
    """Nothing to do: TimescaleDB's retention policies drop old rollup rows."""
