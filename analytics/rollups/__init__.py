"""The four rollups: same relation names and columns on both storage backends.

- ``telemetry_hourly``: per well and UTC hour, averages/min/max of the readings;
- ``telemetry_daily``: per well and *local* day in ``ANALYTICS_TIMEZONE`` (a Saudi field's day
  ends at midnight Riyadh time, not at 03:00 local as a UTC day would);
- ``well_performance_hourly``: ``telemetry_hourly`` joined with each well's pump specification,
  scored by ``analytics.scoring`` (efficiency and health, 0–100);
- ``diagnostic_summary_daily``: per well, local day and severity, what the diagnostics engine found.

How each is kept differs by backend (``postgres.py``, ``timescaledb.py``); what the rest of the code
reads does not. The aggregate column lists live in ``definitions.py`` and are used by both.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import sql

from analytics import metrics
from analytics.rollups import postgres, shared, timescaledb
from telemetry.storage import backend as current_backend

# How many refreshed hours make the change log worth vacuuming straight away.
VACUUM_AFTER_HOURS = 10_000


def create_rollups(cursor, backend):
    """Build the four relations for ``backend`` ('postgres' or 'timescaledb'); run by a migration."""
    if backend == "timescaledb":
        timescaledb.create(
            cursor,
            settings.ANALYTICS_TIMEZONE,
            settings.ROLLUP_HOURLY_RETENTION_DAYS,
            settings.ROLLUP_DAILY_RETENTION_DAYS,
        )
    else:
        postgres.create(cursor, settings.ANALYTICS_TIMEZONE)
    cursor.execute(shared.CREATE_PERFORMANCE_VIEW)
    cursor.execute(sql_with_timezone(shared.CREATE_DIAGNOSTIC_SUMMARY_VIEW))


def drop_rollups(cursor, backend):
    cursor.execute(shared.DROP_SHARED_VIEWS)
    (timescaledb if backend == "timescaledb" else postgres).drop(cursor)


def sql_with_timezone(statement):
    """``statement`` with its ``{tz}`` placeholder bound to ANALYTICS_TIMEZONE as a literal."""
    return sql.SQL(statement).format(tz=sql.Literal(settings.ANALYTICS_TIMEZONE))


def refresh_rollups(start=None, end=None):
    """Bring the materialized rollups up to date with the readings; returns what was refreshed.

    Without a range, only what changed since the last refresh is recomputed; with one, every
    bucket in [start, end) is (``manage.py refresh_rollups --from --to``).
    """
    with metrics.refreshing_rollups(), connection.cursor() as cursor:
        if current_backend() == "timescaledb":
            timescaledb.refresh(cursor, start, end)
            return {"backend": "timescaledb"}
        with transaction.atomic():
            hours = postgres.refresh(cursor, settings.ANALYTICS_TIMEZONE, start, end)
        if hours >= VACUUM_AFTER_HOURS and not connection.in_atomic_block:
            # A big claim (a backfill) leaves the change log full of dead rows that the views scan
            # on every read until autovacuum comes round; clear them now.
            cursor.execute(postgres.VACUUM_CHANGES)
        return {"backend": "postgres", "hours": hours}


def refresh_lag():
    """now − the newest materialized hourly bucket, as a timedelta; None when nothing is materialized.

    For health checks and metrics: a lag that keeps growing means the refresh is not running.
    """
    query = timescaledb.NEWEST_MATERIALIZED if current_backend() == "timescaledb" else postgres.NEWEST_MATERIALIZED
    with connection.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
    newest = row[0] if row else None
    if newest is None or newest.year < 1900:
        return None
    return timezone.now() - newest


def expire_rollups():
    """Delete rollup rows past their retention; on TimescaleDB, run the rollups' retention policies."""
    if current_backend() == "timescaledb":
        timescaledb.run_rollup_policies(timescaledb.RETENTION_POLICY)
        return
    with connection.cursor() as cursor:
        cursor.execute(postgres.DELETE_EXPIRED_HOURLY, [settings.ROLLUP_HOURLY_RETENTION_DAYS])
        if settings.ROLLUP_DAILY_RETENTION_DAYS:
            cursor.execute(postgres.DELETE_EXPIRED_DAILY, [settings.ROLLUP_DAILY_RETENTION_DAYS])
        cursor.execute(postgres.DELETE_ORPHANS)
