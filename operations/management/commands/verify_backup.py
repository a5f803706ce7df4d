"""``manage.py verify_backup [file]``: restore a backup into a scratch database and check it against its manifest."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations import backups
from operations.management.commands.backup import call_verify
from operations.models import Backup


class Command(BaseCommand):
    help = (
        "Restore a backup into a scratch database (then drop it) and check it against its manifest: file size and "
        "SHA-256, every table's row count, the readings' checksum and newest reading, the recovery-point target "
        "(BACKUP_RPO_HOURS) and the restore time against the recovery-time target (BACKUP_RTO_MINUTES). Without "
        "a file: the newest good backup. The outcome is recorded on the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="A dump file (its manifest is FILE.manifest.json).")

    def handle(self, *args, file=None, **options):
        if file is None:
            backup = backups.latest_backup()
            if backup is None:
                raise CommandError("There is no good backup to verify: run `manage.py backup` first.")
            call_verify(self, backup)
            return
        path = Path(file).resolve()
        backup = Backup.objects.filter(file=str(path), status=Backup.Status.OK).first()
        if backup is not None:
            # The manifest kept in the database, which an altered file's neighbour cannot change.
            call_verify(self, backup)
            return
        manifest = backups.read_manifest(path)
        if manifest is None:
            raise CommandError(f"{path} is not a recorded backup and has no {path.name}{backups.MANIFEST_SUFFIX}.")
        result = backups.verify_file(path, manifest)
        self.stdout.write(result.detail)
        if not result.passed:
            raise CommandError(f"{path.name} failed verification.")
        self.stdout.write(self.style.SUCCESS(f"{path.name} verified: restored in {result.restore_s:.1f} s."))
