"""TimescaleDB storage for readings: a hypertable with one-day chunks, native compression and retention.

- Chunks are created by TimescaleDB as readings arrive, for any day, so ingest needs no preparation.
- Compression: segmented by ``well_id`` (a well's readings stay together, so per-well queries read
  one segment) and ordered by ``time DESC`` (newest first, as dashboards read). A policy compresses
  chunks older than ``TELEMETRY_COMPRESS_AFTER_DAYS``; inserts into compressed chunks still work,
  including ON CONFLICT DO NOTHING.
- Retention: a policy drops chunks older than ``TELEMETRY_RETENTION_DAYS``.
- Policies normally run in TimescaleDB's own job scheduler. ``maintain()`` only re-applies the
  intervals from settings, so changing a setting takes effect at the next beat run.
  On PostgreSQL 15.20+ TimescaleDB 2.28's scheduler fails its jobs; run them with ``CALL run_job(id)``
  (the job ids are printed by ``manage.py timeseries_status``).
"""

import datetime

from django.db import connection

from telemetry.storage.schema import CREATE_READINGS_TABLE

CHUNK_INTERVAL = datetime.timedelta(days=1)

# Whether the timescaledb loader is in shared_preload_libraries: the loader defines this setting, and
# CREATE EXTENSION without it is a FATAL error that drops the connection, so check before trying.
TIMESCALEDB_PRELOADED = "SELECT current_setting('timescaledb.max_background_workers', true) IS NOT NULL"

# Whether this server has the extension's files at all.
TIMESCALEDB_AVAILABLE = "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')"

# Installs the extension into this database (a no-op if it is there).
CREATE_TIMESCALEDB_EXTENSION = "CREATE EXTENSION IF NOT EXISTS timescaledb"

# Turns the empty readings table into a hypertable of one-day chunks. No extra index on time: the
# primary key (well_id, time) serves every query the platform makes.
CREATE_HYPERTABLE = """
SELECT create_hypertable('telemetry_reading', by_range('time', %s::interval), create_default_indexes => false)
"""

# Native compression, segmented by well, newest first inside each segment.
ENABLE_COMPRESSION = """
ALTER TABLE telemetry_reading SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'well_id',
    timescaledb.compress_orderby = 'time DESC'
)
"""

# (Re)create the policies with the configured intervals; removing first makes this idempotent.
REMOVE_COMPRESSION_POLICY = "SELECT remove_compression_policy('telemetry_reading', if_exists => true)"
ADD_COMPRESSION_POLICY = "SELECT add_compression_policy('telemetry_reading', compress_after => %s::interval)"
REMOVE_RETENTION_POLICY = "SELECT remove_retention_policy('telemetry_reading', if_exists => true)"
ADD_RETENTION_POLICY = "SELECT add_retention_policy('telemetry_reading', drop_after => %s::interval)"

# The policy jobs on the readings hypertable, the age each acts on, and how their last runs went.
POLICY_JOBS = """
SELECT jobs.job_id, jobs.proc_name,
       coalesce(jobs.config->>'compress_after', jobs.config->>'drop_after'),
       jobs.schedule_interval, jobs.next_start,
       stats.last_run_status, stats.last_successful_finish
FROM timescaledb_information.jobs AS jobs
LEFT JOIN timescaledb_information.job_stats AS stats USING (job_id)
WHERE jobs.hypertable_name = 'telemetry_reading'
ORDER BY jobs.job_id
"""

# Chunk count, time range covered and how many are compressed.
CHUNK_SUMMARY = """
SELECT count(*), min(range_start), max(range_end), count(*) FILTER (WHERE is_compressed)
FROM timescaledb_information.chunks
WHERE hypertable_name = 'telemetry_reading'
"""

EXTENSION_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"

CHUNK_INTERVAL_OF_READINGS = """
SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'telemetry_reading'
"""

COMPRESSION_SETTINGS = """
SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings
WHERE hypertable = 'telemetry_reading'::regclass
"""

HYPERTABLE_TOTAL_BYTES = "SELECT hypertable_size('telemetry_reading')"


def can_be_installed(cursor):
    """True when the extension is on this server and preloaded, so CREATE EXTENSION may succeed."""
    cursor.execute(TIMESCALEDB_AVAILABLE)
    (available,) = cursor.fetchone()
    cursor.execute(TIMESCALEDB_PRELOADED)
    (preloaded,) = cursor.fetchone()
    return available and preloaded


def create_storage(cursor, compress_after_days, retention_days):
    """Create the readings hypertable with compression and retention policies (extension installed)."""
    cursor.execute(CREATE_READINGS_TABLE)
    cursor.execute(CREATE_HYPERTABLE, [CHUNK_INTERVAL])
    cursor.execute(ENABLE_COMPRESSION)
    apply_policies(cursor, compress_after_days, retention_days)


def apply_policies(cursor, compress_after_days, retention_days):
    cursor.execute(REMOVE_COMPRESSION_POLICY)
    cursor.execute(ADD_COMPRESSION_POLICY, [datetime.timedelta(days=compress_after_days)])
    cursor.execute(REMOVE_RETENTION_POLICY)
    cursor.execute(ADD_RETENTION_POLICY, [datetime.timedelta(days=retention_days)])


def _policy_ages(cursor):
    cursor.execute(POLICY_JOBS)
    return {proc: age for _job, proc, age, *_rest in cursor.fetchall()}


# The readings' policy jobs, to run them from beat.
READINGS_POLICY_JOB_IDS = "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_name = 'telemetry_reading'"


def maintain(compress_after_days, retention_days):
    """Re-apply the policy intervals from settings when they differ, then run the policy jobs.

    Running the jobs from beat as well as from TimescaleDB's scheduler costs little (they are
    idempotent) and keeps compression and retention working where the scheduler cannot run them
    (TimescaleDB 2.28 on PostgreSQL 15.20+). Must not run inside a transaction (run_job commits).
    """
    wanted = {"policy_compression": f"{compress_after_days} days", "policy_retention": f"{retention_days} days"}
    with connection.cursor() as cursor:
        current = _policy_ages(cursor)
        stale = [proc for proc, age in wanted.items() if current.get(proc) != age]
        if stale:
            apply_policies(cursor, compress_after_days, retention_days)
        cursor.execute(READINGS_POLICY_JOB_IDS)
        jobs = [job_id for (job_id,) in cursor.fetchall()]
        for job_id in jobs:
            cursor.execute("CALL run_job(%s)", [job_id])
    return {"policies_updated": stale, "jobs_run": jobs}


def status():
    """Extension version, chunk interval and counts, compression settings and the policy jobs."""
    with connection.cursor() as cursor:
        cursor.execute(EXTENSION_VERSION)
        (version,) = cursor.fetchone()
        cursor.execute(CHUNK_INTERVAL_OF_READINGS)
        (chunk_interval,) = cursor.fetchone()
        cursor.execute(CHUNK_SUMMARY)
        chunks, first, last, compressed = cursor.fetchone()
        cursor.execute(COMPRESSION_SETTINGS)
        segmentby, orderby = cursor.fetchone() or (None, None)
        cursor.execute(HYPERTABLE_TOTAL_BYTES)
        (total_bytes,) = cursor.fetchone()
        cursor.execute(POLICY_JOBS)
        jobs = [
            {
                "job_id": job_id,
                "proc_name": proc,
                "older_than": age,
                "schedule_interval": interval,
                "next_start": next_start,
                "last_run_status": last_status,
                "last_successful_finish": last_success,
            }
            for job_id, proc, age, interval, next_start, last_status, last_success in cursor.fetchall()
        ]
    return {
        "version": version,
        "chunk_interval": chunk_interval,
        "chunks": chunks,
        "first_chunk_start": first,
        "last_chunk_end": last,
        "compressed_chunks": compressed,
        "segmentby": segmentby,
        "orderby": orderby,
        "total_bytes": int(total_bytes or 0),
        "jobs": jobs,
    }
