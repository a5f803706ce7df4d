"""Celery tasks for telemetry: thin wrappers around domain functions, which are tested directly."""

import logging

from celery import shared_task

from telemetry import storage

logger = logging.getLogger(__name__)


@shared_task(name="telemetry.tasks.maintain_storage")
def maintain_storage():
    """Hourly (CELERY_BEAT_SCHEDULE): partitions ahead and retention, or TimescaleDB policy intervals."""
    summary = storage.maintain_storage()
    logger.info("Telemetry storage maintained: %s", summary)
    return summary
