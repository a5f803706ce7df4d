"""Beat tasks of the operations app: thin wrappers around operations.backups."""

from celery import shared_task

from operations import backups


@shared_task(name="operations.nightly_backup")
def nightly_backup():
    """Back up, restore-test the new backup, apply retention (CELERY_BEAT_SCHEDULE: nightly at BACKUP_HOUR)."""
    return backups.run_nightly()
