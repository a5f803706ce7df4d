"""Load the demo wells and (re)create one demo user per role, printing their new passwords once."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import reset_demo_users
from wells.demo import load_demo_wells


class Command(BaseCommand):
    help = "Load demo wells and demo users (development only: refuses to run unless DEBUG is on)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo only runs with DEBUG=true: it resets the demo users' passwords.")
        wells = load_demo_wells()
        self.stdout.write(self.style.SUCCESS(f"{len(wells)} demo wells ready."))
        credentials = reset_demo_users()
        self.stdout.write("Demo users (passwords are new on every load and stored nowhere):")
        for username, password in credentials.items():
            self.stdout.write(f"  {username:<9} {password}")
