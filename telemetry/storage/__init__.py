"""Where readings live: a TimescaleDB hypertable or a plain PostgreSQL partitioned table.

The backend is chosen once, when migration ``telemetry.0001`` builds the table, from
``settings.TIMESERIES_BACKEND``:

- ``postgres``: daily range partitions (``telemetry.storage.postgres``);
- ``timescaledb``: hypertable with compression and retention (``telemetry.storage.timescaledb``);
  the migration fails if the extension can't be installed;
- ``auto`` (default): TimescaleDB when the server has the extension *and* preloads it, so that
  ``CREATE EXTENSION IF NOT EXISTS timescaledb`` succeeds; otherwise plain PostgreSQL.

Afterwards ``backend()`` answers which one the database actually has, by looking at the table. Both
give the same relation ``telemetry_reading`` with the same columns and primary key, so nothing outside
this package (and the partition preparation in ingest) branches on the backend.
"""

import datetime
import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from telemetry.storage import postgres, timescaledb
from telemetry.storage.schema import DROP_READINGS_TABLE

logger = logging.getLogger(__name__)

POSTGRES = "postgres"
TIMESCALEDB = "timescaledb"

# Which backend built the readings table: a partitioned table is plain PostgreSQL; a table registered
# as a hypertable is TimescaleDB. Returns no row when the table does not exist (not migrated yet).
READINGS_STORAGE_KIND = """
SELECT CASE
    WHEN EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = to_regclass('telemetry_reading')) THEN 'postgres'
    WHEN EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN 'timescaledb'
END
WHERE to_regclass('telemetry_reading') IS NOT NULL
"""

# Backend per database name, once known (it only changes by re-running the migration).
_backend_of_database = {}


def backend():
    """'timescaledb' or 'postgres' for the default database, or None before migrate. Cached per process."""
    name = connection.settings_dict["NAME"]
    if name not in _backend_of_database:
        with connection.cursor() as cursor:
            cursor.execute(READINGS_STORAGE_KIND)
            row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        _backend_of_database[name] = row[0]
    return _backend_of_database[name]


def choose_backend(cursor, alias):
    """The backend to build, per TIMESERIES_BACKEND; installs the TimescaleDB extension when it picks it.

    ``auto`` falls back to plain PostgreSQL (logging why) when TimescaleDB is absent, not preloaded,
    or CREATE EXTENSION fails (e.g. no privilege); the attempt runs in a savepoint so a failure
    leaves the migration's transaction usable.
    """
    wanted = settings.TIMESERIES_BACKEND
    if wanted == POSTGRES:
        return POSTGRES
    if wanted == TIMESCALEDB:
        if not timescaledb.can_be_installed(cursor):
            raise DatabaseError(
                "TIMESERIES_BACKEND=timescaledb but this server does not offer a preloaded timescaledb "
                "extension (add it to shared_preload_libraries), or use TIMESERIES_BACKEND=auto."
            )
        cursor.execute(timescaledb.CREATE_TIMESCALEDB_EXTENSION)
        return TIMESCALEDB
    if not timescaledb.can_be_installed(cursor):
        logger.info("TimescaleDB is not available and preloaded here; readings use PostgreSQL partitions.")
        return POSTGRES
    try:
        with transaction.atomic(using=alias):
            cursor.execute(timescaledb.CREATE_TIMESCALEDB_EXTENSION)
    except DatabaseError as error:
        logger.warning("CREATE EXTENSION timescaledb failed (%s); readings use PostgreSQL partitions.", error)
        return POSTGRES
    return TIMESCALEDB


def create_reading_storage(apps, schema_editor):
    """Migration step: build the readings table on the backend chosen now (see module docstring)."""
    connection_ = schema_editor.connection
    with connection_.cursor() as cursor:
        chosen = choose_backend(cursor, connection_.alias)
        if chosen == TIMESCALEDB:
            timescaledb.create_storage(
                cursor, settings.TELEMETRY_COMPRESS_AFTER_DAYS, settings.TELEMETRY_RETENTION_DAYS
            )
        else:
            postgres.create_storage(cursor, datetime.datetime.now(datetime.UTC).date())
    _backend_of_database.pop(connection_.settings_dict["NAME"], None)
    logger.info("Readings storage: %s.", chosen)


def drop_reading_storage(apps, schema_editor):
    """Migration reversal: drop the readings table (and its partitions or chunks). The extension stays."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP_READINGS_TABLE)
    _backend_of_database.pop(schema_editor.connection.settings_dict["NAME"], None)


def prepare_days(days):
    """Make sure readings for these UTC days can be written (creates missing partitions on PostgreSQL)."""
    if backend() == POSTGRES:
        postgres.ensure_partitions(days, settings.TELEMETRY_RETENTION_DAYS)


def maintain_storage(now=None):
    """Keep storage within its settings: partitions ahead and retention (PostgreSQL), policies (TimescaleDB).

    Called hourly by the ``telemetry.tasks.maintain_storage`` beat task. Returns a JSON-friendly summary.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    kind = backend()
    if kind == POSTGRES:
        changes = postgres.maintain(now, settings.TELEMETRY_RETENTION_DAYS)
        summary = {key: [day.isoformat() for day in days] for key, days in changes.items()}
    elif kind == TIMESCALEDB:
        summary = timescaledb.maintain(settings.TELEMETRY_COMPRESS_AFTER_DAYS, settings.TELEMETRY_RETENTION_DAYS)
    else:
        summary = {}
    return {"backend": kind, **summary}


def storage_status():
    """What ``manage.py timeseries_status`` prints: backend plus the backend's own status dict."""
    kind = backend()
    details = {POSTGRES: postgres.status, TIMESCALEDB: timescaledb.status}.get(kind, dict)()
    return {
        "backend": kind,
        "configured": settings.TIMESERIES_BACKEND,
        "retention_days": settings.TELEMETRY_RETENTION_DAYS,
        "compress_after_days": settings.TELEMETRY_COMPRESS_AFTER_DAYS,
        **details,
    }
