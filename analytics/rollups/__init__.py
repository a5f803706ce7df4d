"""The four rollups: same relation names and columns on both storage backends.

- ``telemetry_hourly``: per well and UTC hour, averages/min/max of the readings;
- ``telemetry_daily``: per well and *local* day of ``analytics_timezone()`` (ANALYTICS_TIMEZONE when
  migrated: a Saudi field's day ends at midnight Riyadh time, not at 03:00 local as a UTC day would);
- ``well_performance_hourly``: ``telemetry_hourly`` joined with each well's pump specification,
  scored by ``analytics.scoring`` (efficiency and health, 0–100);
- ``diagnostic_summary_daily``: per well, local day and severity, what the diagnostics engine found.

How each is kept differs by backend (``postgres.py``, ``timescaledb.py``, each with ``refresh``,
``expire``, ``NEWEST_MATERIALIZED`` and ``definitions``); what the rest of the code reads does not.
The columns live in ``definitions.py``. Migrations build the relations from literal copies of this
SQL; ``analytics.checks`` compares the database with it.
"""

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics import metrics
from analytics.rollups import postgres, timescaledb
from telemetry.storage import backend as current_backend

BACKENDS = {"postgres": postgres, "timescaledb": timescaledb}


def storage():
    """The rollup module of the database's storage backend (None before migrate)."""
    return BACKENDS.get(current_backend())


def refresh_rollups(start=None, end=None):
    """Bring the materialized rollups up to date with the readings; returns what was refreshed.

    Without a range, only what changed since the last refresh is recomputed; with one, every
    bucket in [start, end) is (``manage.py refresh_rollups --from --to``).
    """
    with metrics.refreshing_rollups():
        return storage().refresh(start, end)


def refresh_lag():
    """now − the newest materialized hourly bucket, as a timedelta; None when nothing is materialized.

    For health checks and metrics: a lag that keeps growing means the refresh is not running.
    """
    with connection.cursor() as cursor:
        cursor.execute(storage().NEWEST_MATERIALIZED)
        row = cursor.fetchone()
    newest = row[0] if row else None
    if newest is None or newest.year < 1900:
        return None
    return timezone.now() - newest


def expire_rollups():
    """Delete rollup rows past their retention, on TimescaleDB by running its retention policies."""
    storage().expire(settings.ROLLUP_HOURLY_RETENTION_DAYS, settings.ROLLUP_DAILY_RETENTION_DAYS)
