"""``manage.py restore FILE --yes [--force]``: replace the platform's database with a backup."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from operations import backups


class Command(BaseCommand):
    help = (
        "Replace the database with a backup: drops it, creates it empty and restores FILE (TimescaleDB-aware). "
        "Refuses without --yes, and refuses a database that has any table without --force. Stop the web, "
        "worker, beat and bridge processes first: their connections are cut."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A dump made by `manage.py backup` (or any pg_dump custom-format file).")
        parser.add_argument("--yes", action="store_true", help="Yes, replace the database.")
        parser.add_argument("--force", action="store_true", help="Even when the database is not empty.")
        parser.add_argument("--database", help="Restore into this database instead of the platform's.")
        parser.add_argument("--jobs", type=int, help="Parallel pg_restore jobs (default BACKUP_RESTORE_JOBS).")

    def handle(self, *args, file, yes=False, force=False, database=None, jobs=None, **options):
        path = Path(file).resolve()
        if not path.is_file():
            raise CommandError(f"{path} does not exist.")
        database = database or connection.settings_dict["NAME"]
        if not yes:
            raise CommandError(
                f"This replaces the database {database!r} with {path.name}: everything written since that backup "
                "is lost. Run again with --yes to go ahead."
            )
        relations = backups.database_relation_count(database)
        if relations and not force:
            raise CommandError(
                f"The database {database!r} is not empty ({relations} tables, views and sequences): add --force "
                "to drop it and restore the backup in its place."
            )
        try:
            seconds = backups.restore_backup(path, database, jobs=jobs)
        except backups.BackupError as error:
            raise CommandError(f"Restore failed: {error}") from None
        self.stdout.write(self.style.SUCCESS(f"Restored {database!r} from {path.name} in {seconds:.1f} s."))
