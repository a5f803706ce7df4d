"""Backups of the platform's database: dump, verify by restoring, restore, retention.

**Dump** (``run_backup``, ``manage.py backup``). One connection holds a REPEATABLE READ, READ ONLY
transaction open for the whole backup: it takes ACCESS SHARE locks on every table (so retention cannot
drop a partition under the dump), exports its snapshot, counts every table's rows and digests the
readings *in that snapshot*, and then ``pg_dump --snapshot`` dumps exactly that snapshot. So the
manifest's counts are those of the dump, exactly, while readings keep arriving. The dump (custom format)
is streamed through SHA-256 into ``BACKUP_DIR/<database>-<UTC time>-<id>.dump``; the manifest is written
beside it as ``….dump.manifest.json`` and kept in the ``Backup`` row.

**Readings checksum.** ``count(*)``, the exact (numeric) sum of a 64-bit hash of each row
(``hash_record_extended`` over every column, PostgreSQL 14+) and ``max(time)``, in one streaming pass
per partition (or over the hypertable): no sort and constant memory, and because a sum does not depend
on order, partitions add up and the restored copy is digested the same way whatever its physical order.
On 1,000,000 readings it costs about 0.6 s of one core (count alone: 0.15 s; md5 over the rows as text
ordered by key: 7.6 s). It detects any changed, lost or added reading, not a deliberate forgery: the
file's SHA-256 is what detects tampering with the file.

**Verify** (``verify_backup``). Checks the file's size and SHA-256 against the manifest, restores it
into a scratch database (``<database>_verify_<hex>``; on TimescaleDB between ``timescaledb_pre_restore()``
and ``timescaledb_post_restore()``), timing the restore against BACKUP_RTO_MINUTES, counts and digests
the copy the same way and compares with the manifest, checks that the newest reading is within
BACKUP_RPO_HOURS of now, and drops the scratch database whatever happened.

**Restore** (``restore_backup``, ``manage.py restore``): the same restore, into the platform's database
(or another), after dropping it; the command refuses without ``--yes``, and refuses a database that has
any table without ``--force``.

**Retention** (``prune_backups``): keeps the newest good backup of each of the last BACKUP_KEEP_DAILY
days and of each of the last BACKUP_KEEP_WEEKLY ISO weeks (days and weeks in TIME_ZONE) and deletes the
others, file, manifest and row.

A failed backup or verification logs an ERROR and calls ``backup_failed(backup)``, the one place a
notification plugs in.
"""

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, connections
from django.utils import timezone
from psycopg import sql

from operations.models import Backup
from telemetry.storage import READINGS_STORAGE_KIND
from telemetry.storage.schema import READING_COLUMNS

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "esp-platform-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
# Bytes read from pg_dump's output (and from files being hashed) at a time.
CHUNK_BYTES = 1024 * 1024
# pg_dump's zlib level. Floating-point telemetry compresses poorly: on 1,000,000 readings level 1 gave a
# 7 % larger file (92 MB against 86 MB) in a quarter of the time (2.6 s against 11.9 s) of the default.
DUMP_COMPRESSION = 1
# How the manifest's readings checksum was computed (READINGS_DIGEST), recorded with it.
CHECKSUM_METHOD = "count, sum(hash_record_extended(row(every column), 1)), max(time) over telemetry_reading"

# --- SQL ---------------------------------------------------------------------------------------
# Only one backup of a database at a time (session-level, so it covers the whole backup): the nightly
# task and someone running `manage.py backup` by hand must not race for the same snapshot and files.
TRY_BACKUP_LOCK = "SELECT pg_try_advisory_lock(hashtext('operations.backups: backup'))"
# Only one verification at a time, so that leftover scratch databases can be dropped safely.
TRY_VERIFY_LOCK = "SELECT pg_try_advisory_lock(hashtext('operations.backups: verify'))"

# Every ordinary table whose rows the dump holds: the platform's own schemas, not PostgreSQL's catalogs
# and not TimescaleDB's internals (a hypertable's chunks are counted through the hypertable itself). A
# partitioned table has no rows of its own; its partitions are ordinary tables and are listed. The
# second column says whether the table holds readings (the readings table or one of its partitions).
LIST_TABLES = """
SELECT n.nspname, c.relname,
       c.oid = to_regclass('telemetry_reading')
       OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid AND i.inhparent = to_regclass('telemetry_reading'))
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname NOT LIKE '\\_timescaledb\\_%'
  AND n.nspname NOT LIKE 'timescaledb\\_%'
  AND n.nspname NOT LIKE 'toolkit\\_%'
ORDER BY 1, 2
"""

# The snapshot transaction. LOCK TABLE does not fix a REPEATABLE READ snapshot; the first query does,
# so the locks are held from before the snapshot the dump and the counts share.
BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
LOCK_TABLE = "LOCK TABLE {table} IN ACCESS SHARE MODE"
# The snapshot pg_dump imports (valid while this transaction is open) and the moment it shows.
EXPORT_SNAPSHOT = "SELECT pg_export_snapshot(), now()"
COUNT_ROWS = "SELECT count(*) FROM {table}"
# The readings digest of one table (see the module docstring): count, exact sum of 64-bit row hashes
# (seed 1, so that a NULL and a 0.0 hash differently), newest time. Same statement before and after.
READINGS_DIGEST = (
    'SELECT count(*), coalesce(sum(hash_record_extended(ROW({columns}), 1)), 0)::text, max("time") FROM {table}'
)

SERVER_VERSIONS = """
SELECT current_setting('server_version'), current_setting('server_version_num')::int,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')
"""

# Relations (tables, views, sequences…) outside the catalogs: a database with any is not empty.
COUNT_RELATIONS = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
"""
DATABASE_EXISTS = "SELECT EXISTS (SELECT FROM pg_database WHERE datname = %s)"
SCRATCH_DATABASES = "SELECT datname FROM pg_database WHERE datname LIKE %s"
# WITH (FORCE) ends the other sessions on it (PostgreSQL 13+): a restore replaces the database whole.
DROP_DATABASE = "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
# template0: an empty database with nothing a template1 might have gained, which the dump would clash with.
CREATE_DATABASE = "CREATE DATABASE {database} TEMPLATE template0"
# TimescaleDB's documented logical restore: the same extension version, background workers stopped and
# catalog triggers off while pg_restore runs, then back on.
CREATE_TIMESCALEDB = "CREATE EXTENSION IF NOT EXISTS timescaledb {version}"
TIMESCALEDB_PRE_RESTORE = "SELECT timescaledb_pre_restore()"
TIMESCALEDB_POST_RESTORE = "SELECT timescaledb_post_restore()"
ANALYZE = "ANALYZE"


class BackupError(Exception):
    """A step of a backup, verification or restore failed; the message says which and why."""


def _readings_digest_statement(schema, table):
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in READING_COLUMNS)
    return sql.SQL(READINGS_DIGEST).format(columns=columns, table=sql.Identifier(schema, table))


# --- Connections and tools ---------------------------------------------------------------------


def _database_settings():
    """Django's settings of the platform's database (the test database under tests)."""
    return connection.settings_dict


def _connect(database, settings_dict=None):
    """A psycopg connection to ``database`` on the platform's server, as the platform's user."""
    db = settings_dict or _database_settings()
    options = db.get("OPTIONS", {})
    return psycopg.connect(
        dbname=database,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        **{key: value for key, value in options.items() if key in ("sslmode", "sslrootcert", "options")},
    )


def _tool_environment(database, settings_dict=None):
    """Environment for pg_dump / pg_restore: the connection in libpq variables, so that the password is
    never on a command line (where `ps` and logs would show it)."""
    db = settings_dict or _database_settings()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    values = {
        "PGHOST": db.get("HOST"),
        "PGPORT": db.get("PORT"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGDATABASE": database,
        "PGSSLMODE": db.get("OPTIONS", {}).get("sslmode"),
        "PGOPTIONS": db.get("OPTIONS", {}).get("options"),
    }
    env.update({key: str(value) for key, value in values.items() if value})
    return env


def pg_tool(name):
    """Path of a PostgreSQL client program: from PG_BIN_DIR when set, else from PATH."""
    if settings.PG_BIN_DIR:
        path = Path(settings.PG_BIN_DIR) / name
        if not path.is_file():
            raise BackupError(f"{name} is not in PG_BIN_DIR ({settings.PG_BIN_DIR}).")
        return str(path)
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client (e.g. apt-get install postgresql-client) "
            "of at least the server's major version, or set PG_BIN_DIR."
        )
    return found


def _tool_version(name):
    result = subprocess.run([pg_tool(name), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def file_sha256(path):
    """Hex SHA-256 of a file, read in chunks (a multi-gigabyte dump costs a few seconds, not memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(dump_path):
    return Path(f"{dump_path}{MANIFEST_SUFFIX}")


def read_manifest(dump_path):
    """The manifest written beside ``dump_path``, or None when there is none."""
    path = manifest_path(dump_path)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _write_atomically(path, text):
    partial = Path(f"{path}.partial")
    partial.write_text(text)
    os.replace(partial, path)


# --- What a database holds ---------------------------------------------------------------------


@dataclasses.dataclass
class Contents:
    """Row counts of every table and the readings digest, as one snapshot saw them."""

    tables: dict
    readings_rows: int
    readings_checksum: str
    newest_reading: datetime.datetime | None

    @property
    def rows(self):
        return sum(self.tables.values())


def _list_tables(cursor):
    cursor.execute(LIST_TABLES)
    return cursor.fetchall()


def count_contents(cursor):
    """Count every table's rows and digest the readings, in the cursor's current transaction."""
    tables = {}
    readings_rows, readings_sum, newest = 0, 0, None
    for schema, table, holds_readings in _list_tables(cursor):
        name = f"{schema}.{table}"
        if holds_readings:
            cursor.execute(_readings_digest_statement(schema, table))
            count, digest, table_newest = cursor.fetchone()
            readings_rows += count
            readings_sum += int(digest)
            if table_newest is not None and (newest is None or table_newest > newest):
                newest = table_newest
        else:
            cursor.execute(sql.SQL(COUNT_ROWS).format(table=sql.Identifier(schema, table)))
            (count,) = cursor.fetchone()
        tables[name] = count
    return Contents(tables, readings_rows, str(readings_sum), newest)


def _server_versions(cursor):
    cursor.execute(SERVER_VERSIONS)
    version, version_num, timescaledb_version = cursor.fetchone()
    cursor.execute(READINGS_STORAGE_KIND)
    row = cursor.fetchone()
    return {
        "postgresql_version": version,
        "postgresql_version_num": version_num,
        "timescaledb_version": timescaledb_version,
        "backend": row[0] if row else None,
    }


# --- Backup -------------------------------------------------------------------------------------


def backup_failed(backup):
    """Called once for every backup whose dump or restore test failed (``backup.status`` is "failed", or
    ``backup.verification_status`` is "failed"), after the row is saved: an ERROR log line, and a mail to
    the people who get escalated alarms (``ALARM_ESCALATION_RECEIVERS``).

    Alarms belong to wells, so a backup failure is not an Alarm; the mail, the backup metrics, the
    Prometheus rules and /health/ready are how it shows. A mail server that fails is logged, never raised:
    the failure is already recorded on the row.
    """
    what = "backup" if backup.status == Backup.Status.FAILED else "backup verification"
    reason = backup.detail if backup.status == Backup.Status.FAILED else backup.verification_detail
    logger.error(
        "%s %s failed: %s",
        what.capitalize(),
        backup.pk,
        reason,
        extra={"backup_id": backup.pk, "backup_file": backup.file},
    )
    if not settings.ALARM_ESCALATION_RECEIVERS:
        return
    try:
        send_mail(
            f"[ESP critical] {what} {backup.pk} failed",
            f"The {what} of {backup.file or 'the database'} started at {backup.started_at:%Y-%m-%d %H:%M} UTC "
            f"failed:\n\n{reason}\n\nSee GET /api/v1/operations/backups and the operations logs.",
            None,
            settings.ALARM_ESCALATION_RECEIVERS,
        )
    except Exception:  # the failure is recorded and logged; a dead mail server must not hide it further
        logger.exception("Could not mail the %s failure of backup %s", what, backup.pk)


def _fail(backup, started, reason):
    backup.status = Backup.Status.FAILED
    backup.finished_at = timezone.now()
    backup.duration_s = round(time.monotonic() - started, 3)
    backup.detail = reason
    backup.save()
    backup_failed(backup)
    return backup


def _mark_interrupted_backups(current):
    """Backups left "running" by a process that died: we hold the backup lock, so none is running."""
    Backup.objects.filter(status=Backup.Status.RUNNING).exclude(pk=current.pk).update(
        status=Backup.Status.FAILED,
        finished_at=timezone.now(),
        detail="Interrupted: the process making this backup stopped before it finished.",
    )


def run_backup(directory=None):
    """Dump the platform's database into ``directory`` (default BACKUP_DIR); returns the Backup row.

    Never raises for a failed backup: the row says "failed" with the reason (and ``backup_failed`` has
    been called). Holds one extra connection for the whole dump.
    """
    directory = Path(directory or settings.BACKUP_DIR)
    database = _database_settings()["NAME"]
    started_at = timezone.now()
    started = time.monotonic()
    backup = Backup.objects.create(started_at=started_at, status=Backup.Status.RUNNING, file="")
    stamp = started_at.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{database}-{stamp}-{backup.pk}.dump"
    backup.file = str(path)
    backup.save(update_fields=["file"])
    partial = Path(f"{path}.partial")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        snapshot_connection = _connect(database)
    except (OSError, psycopg.Error) as error:
        return _fail(backup, started, f"Could not start: {error}")
    try:
        snapshot_connection.autocommit = True
        with snapshot_connection.cursor() as cursor:
            cursor.execute(TRY_BACKUP_LOCK)
            if not cursor.fetchone()[0]:
                return _fail(backup, started, "Another backup of this database is running; this one did not start.")
            _mark_interrupted_backups(backup)
            tables = _list_tables(cursor)
            versions = _server_versions(cursor)
            cursor.execute(BEGIN_SNAPSHOT)
            for schema, table, _ in tables:
                cursor.execute(sql.SQL(LOCK_TABLE).format(table=sql.Identifier(schema, table)))
            cursor.execute(EXPORT_SNAPSHOT)
            snapshot, snapshot_time = cursor.fetchone()
            contents = count_contents(cursor)
            size, sha256, warnings = _dump(database, snapshot, partial)
            cursor.execute("COMMIT")
        os.replace(partial, path)
    except (OSError, psycopg.Error, BackupError) as error:
        partial.unlink(missing_ok=True)
        return _fail(backup, started, str(error).strip())
    finally:
        snapshot_connection.close()

    backup.manifest = {
        "format": MANIFEST_FORMAT,
        "backup_id": backup.pk,
        "database": database,
        "file": path.name,
        "time": snapshot_time.astimezone(datetime.UTC).isoformat(),
        "started_at": started_at.isoformat(),
        "size_bytes": size,
        "sha256": sha256,
        **versions,
        "pg_dump_version": _tool_version("pg_dump"),
        "consistency": "row counts and checksum taken in the snapshot pg_dump dumped (--snapshot)",
        "tables": contents.tables,
        "rows": contents.rows,
        "readings": {
            "rows": contents.readings_rows,
            "checksum": contents.readings_checksum,
            "method": CHECKSUM_METHOD,
        },
        "newest_reading": contents.newest_reading.isoformat() if contents.newest_reading else None,
        "restore": (
            "CREATE EXTENSION timescaledb (same version); timescaledb_pre_restore(); pg_restore; "
            "timescaledb_post_restore()"
            if versions["timescaledb_version"]
            else "pg_restore into an empty database"
        ),
    }
    try:
        _write_atomically(manifest_path(path), json.dumps(backup.manifest, indent=2) + "\n")
    except OSError as error:
        path.unlink(missing_ok=True)
        return _fail(backup, started, f"Could not write the manifest: {error}")
    backup.status = Backup.Status.OK
    backup.finished_at = timezone.now()
    backup.duration_s = round(time.monotonic() - started, 3)
    backup.size_bytes = size
    backup.sha256 = sha256
    backup.detail = warnings
    backup.save()
    logger.info(
        "Backup %s written: %s (%s bytes, %s rows, %.1f s)",
        backup.pk,
        path.name,
        size,
        contents.rows,
        backup.duration_s,
        extra={"backup_id": backup.pk},
    )
    return backup


def _dump(database, snapshot, partial):
    """Run pg_dump on ``snapshot`` into ``partial``, hashing as it streams; (size, sha256, stderr text)."""
    digest = hashlib.sha256()
    size = 0
    argv = [
        pg_tool("pg_dump"),
        "--format=custom",
        f"--compress={DUMP_COMPRESSION}",
        f"--snapshot={snapshot}",
        "--no-password",
    ]
    with tempfile.TemporaryFile() as errors, open(partial, "wb") as out:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=_tool_environment(database))
        while chunk := process.stdout.read(CHUNK_BYTES):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        process.stdout.close()
        returncode = process.wait()
        out.flush()
        os.fsync(out.fileno())
        errors.seek(0)
        stderr = errors.read().decode(errors="replace").strip()
    if returncode != 0:
        raise BackupError(f"pg_dump exited with status {returncode}: {stderr}")
    return size, digest.hexdigest(), stderr


def latest_backup():
    """The newest backup whose dump succeeded, or None. One query."""
    return Backup.objects.filter(status=Backup.Status.OK).order_by("-started_at", "-id").first()


def latest_verification():
    """The backup most recently restore-tested (passed or failed), or None. One query."""
    return Backup.objects.filter(verified_at__isnull=False).order_by("-verified_at", "-id").first()


# --- Restore ------------------------------------------------------------------------------------


def dump_uses_timescaledb(path):
    """Whether the dump creates the timescaledb extension (read from its table of contents)."""
    result = subprocess.run([pg_tool("pg_restore"), "--list", str(path)], capture_output=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_restore cannot read {path}: {result.stderr.decode(errors='replace').strip()}")
    return any(
        " EXTENSION " in line and line.rstrip().endswith(" timescaledb")
        for line in result.stdout.decode(errors="replace").splitlines()
    )


def database_relation_count(database):
    """How many tables, views and sequences ``database`` has outside the catalogs; None when it does not exist."""
    maintenance = _connect("postgres")
    try:
        with maintenance.cursor() as cursor:
            cursor.execute(DATABASE_EXISTS, [database])
            exists = cursor.fetchone()[0]
    finally:
        maintenance.close()
    if not exists:
        return None
    target = _connect(database)
    try:
        with target.cursor() as cursor:
            cursor.execute(COUNT_RELATIONS)
            return cursor.fetchone()[0]
    finally:
        target.close()


def _recreate_database(database):
    maintenance = _connect("postgres")
    try:
        maintenance.autocommit = True
        with maintenance.cursor() as cursor:
            cursor.execute(sql.SQL(DROP_DATABASE).format(database=sql.Identifier(database)))
            cursor.execute(sql.SQL(CREATE_DATABASE).format(database=sql.Identifier(database)))
    finally:
        maintenance.close()


def _drop_database(database):
    maintenance = _connect("postgres")
    try:
        maintenance.autocommit = True
        with maintenance.cursor() as cursor:
            cursor.execute(sql.SQL(DROP_DATABASE).format(database=sql.Identifier(database)))
    finally:
        maintenance.close()


def _run_in(database, *statements):
    target = _connect(database)
    try:
        target.autocommit = True
        with target.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        target.close()


def restore_dump(path, database, *, timescaledb_version=None, jobs=None, analyze=False):
    """Drop ``database``, create it empty and restore the dump at ``path`` into it; returns seconds taken.

    On TimescaleDB (the dump creates the extension) the extension is created first at the dump's version
    and the restore runs between timescaledb_pre_restore() and timescaledb_post_restore(), in one job.
    Raises BackupError when pg_restore reports any error (``--exit-on-error``).
    """
    started = time.monotonic()
    uses_timescaledb = dump_uses_timescaledb(path)
    _recreate_database(database)
    argv = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--no-password"]
    if uses_timescaledb:
        # Without a manifest the version is unknown: the server's default, which must be the dump's.
        version = sql.SQL("VERSION {}").format(sql.Literal(timescaledb_version)) if timescaledb_version else sql.SQL("")
        _run_in(database, sql.SQL(CREATE_TIMESCALEDB).format(version=version), TIMESCALEDB_PRE_RESTORE)
    else:
        argv.append(f"--jobs={jobs or settings.BACKUP_RESTORE_JOBS}")
    argv += [f"--dbname={database}", str(path)]
    result = subprocess.run(argv, capture_output=True, env=_tool_environment(database), check=False)
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore exited with status {result.returncode}: {result.stderr.decode(errors='replace').strip()}"
        )
    if uses_timescaledb:
        _run_in(database, TIMESCALEDB_POST_RESTORE)
    if analyze:
        _run_in(database, ANALYZE)
    return time.monotonic() - started


def _contents_of(database):
    target = _connect(database)
    try:
        with target.cursor() as cursor:
            cursor.execute(BEGIN_SNAPSHOT)
            contents = count_contents(cursor)
            cursor.execute("COMMIT")
        return contents
    finally:
        target.close()


def _close_every_connection():
    """Close this process's database connections, its pools' idle ones too: DROP DATABASE … WITH (FORCE)
    would end them under the pool, which would then hand out closed connections."""
    for wrapper in connections.all():
        wrapper.close()
        if getattr(wrapper, "pool", None):
            wrapper.close_pool()


def restore_backup(path, database=None, *, jobs=None):
    """Replace ``database`` (default: the platform's) with the dump at ``path``; returns seconds taken.

    Checks the file against its manifest first when there is one (BackupError on a mismatch). Closes
    this process's Django connections, since the database is dropped and created again. The caller
    decides whether replacing is allowed (``manage.py restore`` asks for --yes and --force).
    """
    path = Path(path)
    manifest = read_manifest(path)
    if manifest:
        problem = _file_problem(path, manifest)
        if problem:
            raise BackupError(problem)
    database = database or _database_settings()["NAME"]
    _close_every_connection()
    seconds = restore_dump(
        path,
        database,
        timescaledb_version=(manifest or {}).get("timescaledb_version"),
        jobs=jobs,
        analyze=True,
    )
    if manifest and database == _database_settings()["NAME"]:
        # The dump holds this backup's own row as it was during the dump: "running".
        Backup.objects.filter(pk=manifest.get("backup_id"), status=Backup.Status.RUNNING).update(
            status=Backup.Status.OK,
            file=str(path),
            size_bytes=manifest.get("size_bytes"),
            sha256=manifest.get("sha256", ""),
            manifest=manifest,
            # When the dump finished is not in it; the moment it holds is, and is what its age is about.
            finished_at=datetime.datetime.fromisoformat(manifest["time"]),
            detail=f"The database was restored from this backup at {timezone.now():%Y-%m-%d %H:%M} UTC.",
        )
    logger.warning("Database %s restored from %s in %.1f s", database, path.name, seconds)
    return seconds


# --- Verification -------------------------------------------------------------------------------


@dataclasses.dataclass
class Verification:
    """The outcome of one restore test: each check with what it found."""

    passed: bool
    checks: list  # [(name, passed, detail)]
    restore_s: float | None

    @property
    def detail(self):
        return "\n".join(f"{'ok ' if passed else 'FAILED '}{name}: {detail}" for name, passed, detail in self.checks)


def _file_problem(path, manifest):
    """Why the file is not the one the manifest describes, or None."""
    if not path.is_file():
        return f"{path} does not exist."
    size = path.stat().st_size
    if size != manifest.get("size_bytes"):
        return f"{path.name} is {size} bytes, the manifest says {manifest.get('size_bytes')}: truncated or altered."
    if file_sha256(path) != manifest.get("sha256"):
        return f"{path.name}'s SHA-256 differs from the manifest's: the file was altered."
    return None


def _compare(manifest, contents, now):
    checks = []
    expected = manifest.get("tables", {})
    wrong = [
        f"{table}: {expected.get(table)} in the manifest, {contents.tables.get(table)} restored"
        for table in sorted(set(expected) | {t for t, rows in contents.tables.items() if rows})
        if expected.get(table) != contents.tables.get(table)
    ]
    checks.append(
        (
            "row counts",
            not wrong,
            "; ".join(wrong) if wrong else f"{len(expected)} tables, {contents.rows} rows, as in the manifest",
        )
    )
    readings = manifest.get("readings", {})
    same = readings.get("rows") == contents.readings_rows and readings.get("checksum") == contents.readings_checksum
    checks.append(
        (
            "readings checksum",
            same,
            f"{contents.readings_rows} readings, checksum {contents.readings_checksum}"
            + ("" if same else f"; the manifest says {readings.get('rows')} readings, {readings.get('checksum')}"),
        )
    )
    newest = contents.newest_reading
    newest_text = newest.isoformat() if newest else None
    checks.append(
        (
            "newest reading",
            newest_text == manifest.get("newest_reading"),
            f"{newest_text} (manifest: {manifest.get('newest_reading')})",
        )
    )
    target = datetime.timedelta(hours=settings.BACKUP_RPO_HOURS)
    if newest is None:
        checks.append(("recovery point", True, "no readings in the backup"))
    else:
        age = now - newest
        checks.append(
            (
                "recovery point",
                age <= target,
                f"newest reading {age.total_seconds() / 3600:.1f} h old (target {settings.BACKUP_RPO_HOURS} h)",
            )
        )
    return checks


def verify_file(path, manifest, *, now=None):
    """Restore-test the dump at ``path`` against ``manifest``; returns a Verification (never raises for a
    bad backup). Creates and always drops a scratch database on the platform's server."""
    path = Path(path)
    problem = _file_problem(path, manifest)
    if problem:
        return Verification(False, [("file", False, problem + " Not restored.")], None)
    checks = [("file", True, f"{manifest['size_bytes']} bytes, SHA-256 as in the manifest")]
    database = _database_settings()["NAME"]
    scratch = f"{database[:40]}_verify_{secrets.token_hex(4)}"
    lock = _connect(database)
    lock.autocommit = True
    restore_s = None
    try:
        with lock.cursor() as cursor:
            cursor.execute(TRY_VERIFY_LOCK)
            if not cursor.fetchone()[0]:
                return Verification(False, [("lock", False, "Another verification is running.")], None)
            # Scratch databases left by a verification that was killed: only a verification makes them,
            # and we hold the lock, so none of them is in use.
            cursor.execute(SCRATCH_DATABASES, [f"{database[:40]}\\_verify\\_%"])
            for (leftover,) in cursor.fetchall():
                _drop_database(leftover)
        try:
            restore_s = restore_dump(path, scratch, timescaledb_version=manifest.get("timescaledb_version"))
            contents = _contents_of(scratch)
        except (BackupError, psycopg.Error, OSError) as error:
            checks.append(("restore", False, str(error).strip()))
            return Verification(False, checks, None)
        target = settings.BACKUP_RTO_MINUTES * 60
        checks.append(("restore time", restore_s <= target, f"restored in {restore_s:.1f} s (target {target} s)"))
        checks += _compare(manifest, contents, now or timezone.now())
    finally:
        try:
            _drop_database(scratch)
        finally:
            lock.close()
    return Verification(all(passed for _, passed, _ in checks), checks, round(restore_s, 3))


def verify_backup(backup, *, now=None):
    """Restore-test a Backup's file against its manifest and record the outcome on the row; returns it."""
    if backup.status != Backup.Status.OK:
        raise BackupError(f"Backup {backup.pk} is {backup.status}: there is no complete file to verify.")
    result = verify_file(backup.file, backup.manifest, now=now)
    backup.verified_at = timezone.now()
    backup.verification_status = Backup.Verification.PASSED if result.passed else Backup.Verification.FAILED
    backup.verification_detail = result.detail
    backup.restore_s = result.restore_s
    backup.save(update_fields=["verified_at", "verification_status", "verification_detail", "restore_s"])
    if result.passed:
        logger.info(
            "Backup %s verified: restored in %.1f s", backup.pk, result.restore_s, extra={"backup_id": backup.pk}
        )
    else:
        backup_failed(backup)
    return result


# --- Retention ----------------------------------------------------------------------------------


def backups_to_keep(backups, keep_daily, keep_weekly):
    """The ids among ``backups`` (good ones, any order) that retention keeps: the newest of each of the
    ``keep_daily`` most recent days that have one, and of each of the ``keep_weekly`` most recent ISO
    weeks that have one (both in TIME_ZONE)."""
    newest_first = sorted(backups, key=lambda b: (b.started_at, b.pk), reverse=True)
    keep = set()
    for key_of, limit in (
        (lambda b: timezone.localtime(b.started_at).date(), keep_daily),
        (lambda b: timezone.localtime(b.started_at).isocalendar()[:2], keep_weekly),
    ):
        seen = []
        for backup in newest_first:
            key = key_of(backup)
            if key not in seen:
                if len(seen) == limit:
                    break
                seen.append(key)
                keep.add(backup.pk)
    return keep


def _delete_files(backup):
    if backup.file:
        for path in (Path(backup.file), manifest_path(backup.file), Path(f"{backup.file}.partial")):
            path.unlink(missing_ok=True)


def prune_backups(now=None):
    """Apply retention: delete the good backups it does not keep, and failed ones older than the daily
    window (file, manifest and row). Returns the ids deleted."""
    now = now or timezone.now()
    good = list(Backup.objects.filter(status=Backup.Status.OK))
    keep = backups_to_keep(good, settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY)
    doomed = [backup for backup in good if backup.pk not in keep]
    doomed += list(
        Backup.objects.filter(
            status=Backup.Status.FAILED, started_at__lt=now - datetime.timedelta(days=settings.BACKUP_KEEP_DAILY)
        )
    )
    deleted = sorted(backup.pk for backup in doomed)
    for backup in doomed:
        _delete_files(backup)
        backup.delete()
    if deleted:
        logger.info("Retention deleted backups %s", deleted)
    return deleted


def run_nightly():
    """Beat's nightly job: back up, restore-test the new backup, apply retention. A JSON-friendly summary."""
    backup = run_backup()
    summary = {"backup_id": backup.pk, "status": backup.status}
    if backup.status == Backup.Status.OK:
        result = verify_backup(backup)
        summary["verification"] = "passed" if result.passed else "failed"
        summary["restore_s"] = result.restore_s
    summary["pruned"] = prune_backups()
    return summary
