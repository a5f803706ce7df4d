"""Plain-PostgreSQL storage for readings: one range partition per UTC day.

- Partitions are named ``telemetry_reading_pYYYYMMDD`` and hold [day 00:00Z, next day 00:00Z).
- ``maintain()`` (hourly beat task) creates ``PARTITIONS_AHEAD_DAYS`` days ahead and drops whole
  partitions once they are entirely older than ``TELEMETRY_RETENTION_DAYS``.
- Ingest calls ``ensure_partitions(days)`` before writing, so a backfill of any past day within
  retention finds its partition. Days already known to exist are remembered per process, so the
  steady state costs no query at all.
- There is no default partition: a reading for a day without a partition is an error, never a row
  parked where retention can't drop it and where it would block creating the day's partition later.
- Plain PostgreSQL has no native compression; old partitions stay uncompressed until dropped.
"""

import datetime

from django.db import connection, transaction
from psycopg import sql

from telemetry.storage.schema import CREATE_READINGS_TABLE

PARTITIONS_AHEAD_DAYS = 7
PARTITION_PREFIX = "telemetry_reading_p"

# The readings table, range-partitioned on time; partitions are attached per day below.
CREATE_PARTITIONED_READINGS_TABLE = CREATE_READINGS_TABLE + ' PARTITION BY RANGE ("time")'

# Serialises partition creation and dropping across processes for the rest of the transaction, so two
# ingests that both find a day missing don't both try to create it (the second sees it and skips).
LOCK_PARTITION_CHANGES = "SELECT pg_advisory_xact_lock(hashtext('telemetry_reading partitions'))"

# Names of the partitions attached to the readings table right now.
LIST_PARTITIONS = """
SELECT child.relname
FROM pg_inherits
JOIN pg_class child ON child.oid = pg_inherits.inhrelid
WHERE pg_inherits.inhparent = 'telemetry_reading'::regclass
"""

# One day's partition. IF NOT EXISTS returns before taking the parent's lock when the day exists.
CREATE_DAILY_PARTITION = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {partition} PARTITION OF telemetry_reading FOR VALUES FROM ({start}) TO ({end})"
)

# Drops one day's readings at once (no row-by-row DELETE, no vacuum debt).
DROP_PARTITION = sql.SQL("DROP TABLE IF EXISTS {partition}")

# Disk used by all partitions, for timeseries_status.
PARTITIONS_TOTAL_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(pg_inherits.inhrelid)), 0)
FROM pg_inherits
WHERE pg_inherits.inhparent = 'telemetry_reading'::regclass
"""

# Days whose partitions this process has seen committed. Only trusted for days safely inside the
# retention window, because maintain() in another process may have dropped anything older.
_known_partition_days = set()


def partition_name(day):
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def day_of_partition(name):
    """The day a partition named by ``partition_name`` holds, or None for any other table."""
    if not name.startswith(PARTITION_PREFIX):
        return None
    try:
        return datetime.datetime.strptime(name[len(PARTITION_PREFIX) :], "%Y%m%d").date()
    except ValueError:
        return None


def _day_start(day):
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def _partition_days(cursor):
    cursor.execute(LIST_PARTITIONS)
    days = (day_of_partition(name) for (name,) in cursor.fetchall())
    return {day for day in days if day is not None}


def _create_partition(cursor, day):
    statement = CREATE_DAILY_PARTITION.format(
        partition=sql.Identifier(partition_name(day)),
        start=sql.Literal(_day_start(day)),
        end=sql.Literal(_day_start(day + datetime.timedelta(days=1))),
    )
    cursor.execute(statement.as_string(cursor.connection))


def create_storage(cursor, today):
    """Create the partitioned readings table with partitions from yesterday to PARTITIONS_AHEAD_DAYS ahead."""
    cursor.execute(CREATE_PARTITIONED_READINGS_TABLE)
    for offset in range(-1, PARTITIONS_AHEAD_DAYS + 1):
        _create_partition(cursor, today + datetime.timedelta(days=offset))


def ensure_partitions(days, retention_days):
    """Make sure a partition exists for each UTC day in ``days`` before readings are written there.

    Costs nothing for days this process already knows; otherwise one catalog query and one CREATE per
    missing day. Runs in its own transaction when called outside one, so the parent table's lock is
    held only for the creation, not for the whole ingest. Days are remembered only once committed.
    """
    trusted_from = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=retention_days - 2)
    unknown = {day for day in days if day not in _known_partition_days or day < trusted_from}
    if not unknown:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        missing = unknown - _partition_days(cursor)
        if missing:
            cursor.execute(LOCK_PARTITION_CHANGES)
            for day in sorted(missing):
                _create_partition(cursor, day)
        transaction.on_commit(lambda: _known_partition_days.update(unknown))


def maintain(now, retention_days):
    """Create partitions up to PARTITIONS_AHEAD_DAYS ahead and drop the ones past retention.

    A partition is dropped only when all of it is older than ``now - retention_days``.
    Returns ``{"created": [days], "dropped": [days]}``.
    """
    today = now.astimezone(datetime.UTC).date()
    cutoff = now - datetime.timedelta(days=retention_days)
    wanted = {today + datetime.timedelta(days=offset) for offset in range(PARTITIONS_AHEAD_DAYS + 1)}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_PARTITION_CHANGES)
        existing = _partition_days(cursor)
        created = sorted(wanted - existing)
        for day in created:
            _create_partition(cursor, day)
        dropped = sorted(day for day in existing if _day_start(day + datetime.timedelta(days=1)) <= cutoff)
        for day in dropped:
            statement = DROP_PARTITION.format(partition=sql.Identifier(partition_name(day)))
            cursor.execute(statement.as_string(cursor.connection))
    _known_partition_days.difference_update(dropped)
    return {"created": created, "dropped": dropped}


def status():
    """Partition count, first and last day, and total size in bytes."""
    with connection.cursor() as cursor:
        days = sorted(_partition_days(cursor))
        cursor.execute(PARTITIONS_TOTAL_BYTES)
        (total_bytes,) = cursor.fetchone()
    return {
        "partitions": len(days),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "total_bytes": int(total_bytes),
    }
