"""Create the configured PostgreSQL database if it does not exist yet (used by `make run`)."""

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL when it is missing."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        server = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        }
        try:
            connection = psycopg.connect(dbname="postgres", **server)
        except psycopg.OperationalError as error:
            raise CommandError(f"PostgreSQL does not answer at {db.get('HOST')}:{db.get('PORT')}: {error}") from error
        # CREATE DATABASE cannot run in a transaction block (and `with connection` opens one).
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
                if cursor.fetchone():
                    self.stdout.write(f"Database {db['NAME']} exists.")
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        finally:
            connection.close()
        self.stdout.write(self.style.SUCCESS(f"Created database {db['NAME']}."))
