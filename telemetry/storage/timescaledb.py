"""TimescaleDB storage for readings: a hypertable with one-day chunks, native compression and retention.

- Chunks are created by TimescaleDB as readings arrive, for any day, so ingest needs no preparation.
- Compression: segmented by ``well_id`` (a well's readings stay together, so per-well queries read
  one segment) and ordered by ``time DESC`` (newest first, as dashboards read). A policy compresses
  chunks older than ``TELEMETRY_COMPRESS_AFTER_DAYS``; inserts into compressed chunks still work,
  including ON CONFLICT DO NOTHING.
- Retention: a policy drops chunks older than ``TELEMETRY_RETENTION_DAYS``.
- Policies run in TimescaleDB's own job scheduler *and* from the platform's beat tasks
  (``run_jobs``, ``CALL run_job``): TimescaleDB 2.28's scheduler fails every job on PostgreSQL 15.20+
  ("cannot drop portal"). ``maintain()`` (hourly) re-applies the intervals from settings and runs the
  readings' jobs and TimescaleDB's job-history retention; the rollups run theirs
  (``analytics.rollups.timescaledb``). TimescaleDB's job statistics count only its scheduler's runs, so
  each of the platform's runs is recorded in ``telemetry_policyjobrun`` and ``policy_jobs()`` reports
  both.
"""

import datetime
import logging

from django.db import DatabaseError, connection
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from telemetry.storage.schema import CREATE_READINGS_TABLE

logger = logging.getLogger(__name__)

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

# Every policy job in this database — the readings' compression and retention, the rollups' refresh and
# retention, TimescaleDB's job-history retention — but not the telemetry reporter, which is TimescaleDB
# phoning home. Per job: the relation it acts on (none for the job-history retention), the age it acts on,
# its schedule, the scheduler's last run (with its error when it failed; a last success at '-infinity' means
# never, read as NULL) and the platform's own last run (telemetry_policyjobrun).
POLICY_JOBS = """
SELECT jobs.job_id, jobs.proc_name, jobs.hypertable_name AS relation,
       coalesce(jobs.config->>'compress_after', jobs.config->>'drop_after') AS older_than,
       jobs.schedule_interval, jobs.next_start,
       stats.last_run_status AS scheduler_status, stats.last_run_started_at AS scheduler_started,
       nullif(stats.last_successful_finish, '-infinity') AS scheduler_success,
       scheduler_error.err_message AS scheduler_error,
       runs.succeeded AS platform_succeeded, runs.started_at AS platform_started, runs.error AS platform_error,
       runs.last_success_at AS platform_success
FROM timescaledb_information.jobs AS jobs
LEFT JOIN timescaledb_information.job_stats AS stats ON stats.job_id = jobs.job_id
LEFT JOIN LATERAL (
    SELECT history.err_message FROM timescaledb_information.job_history AS history
    WHERE history.job_id = jobs.job_id ORDER BY history.start_time DESC LIMIT 1
) AS scheduler_error ON stats.last_run_status = 'Failed'
LEFT JOIN telemetry_policyjobrun AS runs ON runs.job_id = jobs.job_id
WHERE jobs.proc_schema = '_timescaledb_functions' AND jobs.proc_name <> 'policy_telemetry'
ORDER BY jobs.job_id
"""

# The jobs ``maintain()`` runs: the readings' policies and TimescaleDB's job-history retention (its
# scheduler's failed runs are logged there, so it grows while the scheduler fails).
MAINTAINED_JOB_IDS = """
SELECT job_id FROM timescaledb_information.jobs
WHERE hypertable_name = 'telemetry_reading' OR proc_name = 'policy_job_stat_history_retention'
ORDER BY job_id
"""

RUN_JOB = "CALL run_job(%s)"

# Keeps one row per job: the platform's latest run, and when one of its runs last succeeded.
RECORD_PLATFORM_RUN = """
INSERT INTO telemetry_policyjobrun AS runs (job_id, started_at, finished_at, succeeded, error, last_success_at)
VALUES (%(job_id)s, %(started_at)s, %(finished_at)s, %(succeeded)s, %(error)s,
        CASE WHEN %(succeeded)s THEN %(finished_at)s::timestamptz END)
ON CONFLICT (job_id) DO UPDATE SET
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, succeeded = EXCLUDED.succeeded,
    error = EXCLUDED.error, last_success_at = coalesce(EXCLUDED.last_success_at, runs.last_success_at)
"""

# Re-applying a policy gives it a new job id; the old job's record goes with it.
FORGET_REMOVED_JOBS = """
DELETE FROM telemetry_policyjobrun
WHERE job_id NOT IN (SELECT job_id FROM timescaledb_information.jobs)
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


def run_jobs(job_ids):
    """Run these policy jobs now (``CALL run_job``) and record each outcome in ``telemetry_policyjobrun``.

    A job that raises is logged and recorded as failed, and the others still run. Must run outside a
    transaction: the policies commit as they go. Returns ``{"jobs_run": [...], "jobs_failed": {id: error}}``.
    """
    if connection.in_atomic_block:
        raise TransactionManagementError("TimescaleDB policy jobs commit as they go: run them outside a transaction")
    failed = {}
    with connection.cursor() as cursor:
        for job_id in job_ids:
            started_at = timezone.now()
            try:
                cursor.execute(RUN_JOB, [job_id])
            except DatabaseError as error:
                failed[job_id] = " ".join(str(error).split())
                logger.error("TimescaleDB policy job %s failed: %s", job_id, failed[job_id])
            run = {"job_id": job_id, "started_at": started_at, "finished_at": timezone.now()}
            cursor.execute(
                RECORD_PLATFORM_RUN, {**run, "succeeded": job_id not in failed, "error": failed.get(job_id, "")}
            )
    return {"jobs_run": list(job_ids), "jobs_failed": failed}


def maintain(compress_after_days, retention_days):
    """Re-apply the policy intervals from settings when they differ, then run the readings' policy jobs and
    TimescaleDB's job-history retention (``run_jobs``: outside a transaction).

    Running the jobs from beat as well as from TimescaleDB's scheduler costs little (they are idempotent)
    and keeps compression and retention working where the scheduler cannot run them (TimescaleDB 2.28 on
    PostgreSQL 15.20+).
    """
    wanted = {"policy_compression": f"{compress_after_days} days", "policy_retention": f"{retention_days} days"}
    with connection.cursor() as cursor:
        current = {
            job["proc_name"]: job["older_than"] for job in policy_jobs(cursor) if job["relation"] == "telemetry_reading"
        }
        stale = [proc for proc, age in wanted.items() if current.get(proc) != age]
        if stale:
            apply_policies(cursor, compress_after_days, retention_days)
            cursor.execute(FORGET_REMOVED_JOBS)
        cursor.execute(MAINTAINED_JOB_IDS)
        jobs = [job_id for (job_id,) in cursor.fetchall()]
    return {"policies_updated": stale, **run_jobs(jobs)}


def policy_jobs(cursor):
    """Every policy job (see POLICY_JOBS) with its scheduler's and the platform's last runs.

    ``last_run_*`` describe the newer of the two runs (``last_run_by``: "scheduler" or "platform").
    ``failing`` is the platform's own last run failing: the platform runs every policy, so its runs say
    whether the work gets done, while TimescaleDB 2.28's scheduler reports every run on PostgreSQL 15.20+
    as failed, even those that did the work.
    """
    cursor.execute(POLICY_JOBS)
    names = [column.name for column in cursor.description]
    jobs = []
    for job in (dict(zip(names, row, strict=True)) for row in cursor.fetchall()):
        scheduler = platform = None
        if job["scheduler_started"]:
            scheduler = {"by": "scheduler", "status": job["scheduler_status"], "at": job["scheduler_started"]}
            scheduler["error"] = job["scheduler_error"]
        if job["platform_started"]:
            platform = {"by": "platform", "at": job["platform_started"], "error": job["platform_error"] or None}
            platform["status"] = "Success" if job["platform_succeeded"] else "Failed"
        runs = [run for run in (scheduler, platform) if run]
        last = max(runs, key=lambda run: run["at"]) if runs else {}
        successes = [moment for moment in (job["scheduler_success"], job["platform_success"]) if moment]
        jobs.append(
            {
                **{key: job[key] for key in ("job_id", "proc_name", "relation", "older_than", "schedule_interval")},
                "next_start": job["next_start"],
                "last_run_status": last.get("status"),
                "last_run_at": last.get("at"),
                "last_run_by": last.get("by"),
                "last_error": last.get("error"),
                "last_successful_finish": max(successes, default=None),
                "scheduler_status": job["scheduler_status"],
                "scheduler_error": job["scheduler_error"],
                "platform_status": platform and platform["status"],
                "platform_run_at": platform and platform["at"],
                "failing": platform is not None and platform["status"] == "Failed",
            }
        )
    return jobs


def status():
    """Extension version, chunk interval and counts, compression settings and every policy job."""
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
        jobs = policy_jobs(cursor)
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
