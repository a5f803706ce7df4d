"""Celery tasks of the analytics app: thin wrappers, scheduled by beat (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from analytics.diagnostics.engine import run_fleet
from analytics.rollups import expire_rollups, refresh_rollups


@shared_task(name="analytics.refresh_rollups", ignore_result=True)
def refresh_rollups_task():
    """Fold what ingestion changed since the last run into the rollups (every minute)."""
    return refresh_rollups()


@shared_task(name="analytics.expire_rollups", ignore_result=True)
def expire_rollups_task():
    """Delete rollup rows past retention (daily; on TimescaleDB by running its retention policies)."""
    expire_rollups()


@shared_task(name="analytics.run_diagnostics", ignore_result=True)
def run_diagnostics_task():
    """Diagnose every active well (every DIAGNOSTICS_INTERVAL)."""
    run_fleet()
