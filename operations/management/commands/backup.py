"""``manage.py backup``: dump the platform's database into BACKUP_DIR with its manifest (operations.backups)."""

from django.core.management.base import BaseCommand, CommandError

from operations import backups
from operations.models import Backup


class Command(BaseCommand):
    help = (
        "Dump the database (pg_dump custom format) into BACKUP_DIR with a manifest: row counts per table and a "
        "checksum of the readings taken in the dump's own snapshot, newest reading, versions, size and SHA-256."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Write here instead of BACKUP_DIR.")
        parser.add_argument("--verify", action="store_true", help="Then restore-test it (as verify_backup does).")
        parser.add_argument("--prune", action="store_true", help="Then apply retention (BACKUP_KEEP_DAILY/WEEKLY).")

    def handle(self, *args, dir=None, verify=False, prune=False, **options):
        backup = backups.run_backup(dir)
        if backup.status != Backup.Status.OK:
            raise CommandError(f"Backup {backup.pk} failed: {backup.detail}")
        manifest = backup.manifest
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {backup.pk}: {backup.file} ({backup.size_bytes:,} bytes, {manifest['rows']:,} rows in "
                f"{len(manifest['tables'])} tables, {manifest['readings']['rows']:,} readings, newest "
                f"{manifest['newest_reading']}) in {backup.duration_s:.1f} s"
            )
        )
        if verify:
            call_verify(self, backup)
        if prune:
            deleted = backups.prune_backups()
            self.stdout.write(f"Retention deleted {len(deleted)} backups.")


def call_verify(command, backup):
    """Restore-test ``backup``, print each check, raise CommandError when it failed."""
    result = backups.verify_backup(backup)
    command.stdout.write(result.detail)
    if not result.passed:
        raise CommandError(f"Backup {backup.pk} failed verification.")
    command.stdout.write(command.style.SUCCESS(f"Backup {backup.pk} verified: restored in {result.restore_s:.1f} s."))
