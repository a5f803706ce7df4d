"""What ``GET /metrics`` answers: every process's counters plus gauges read from the database and Redis.

**Counters and histograms** are incremented where things happen — ``django_prometheus`` for requests,
queries and cache, ``telemetry.metrics`` (ingest, MQTT bridge), ``analytics.metrics`` (rollup refresh,
diagnostics), ``operations.workers`` (Celery task failures). Each process keeps them in
prometheus_client's multiprocess files when it runs with ``PROMETHEUS_MULTIPROC_DIR`` set:

    $METRICS_DIR/web/      gunicorn's workers (config/gunicorn.py wipes it at start, marks dead workers)
    $METRICS_DIR/worker/   the Celery worker and its pool (wiped by the worker at start)
    $METRICS_DIR/mqtt/     the MQTT bridge        $METRICS_DIR/beat/  Celery beat

One directory per kind of process, so processes of different kinds never share a file (containers
that share the volume have overlapping pids). ``/metrics`` adds up the files of every directory under
``METRICS_DIR`` (``manage.py runplatform`` sets it all up; compose mounts one volume). Without
``METRICS_DIR`` it adds up its own ``PROMETHEUS_MULTIPROC_DIR`` only, and without that either (tests,
``runserver``) it shows this process's registry.

**Gauges from the database and Redis** (``PlatformCollector``) are read at most once per
``METRICS_CACHE_SECONDS`` per web process, whatever the scrape rate, each section under a statement
timeout, each failing on its own (``esp_platform_collector_section_up``). No label names a well.
"""

import contextlib
import datetime
import glob
import logging
import os
import pathlib
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.db.models.functions import Coalesce
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

# Each section's queries together may take this long before PostgreSQL cancels them.
SECTION_STATEMENT_TIMEOUT_MS = 5000
# How long a scrape waits for another thread's first read of the gauges before answering without them.
FIRST_READ_WAIT_SECONDS = 30
# django-prometheus's migration gauges change at deploys only: they are re-read this rarely.
MIGRATIONS_EVERY_SECONDS = 300


# --- Where the process metrics are ------------------------------------------------------------------


def multiprocess_directories():
    """The directories whose metrics files make up this host's processes, or [] in single-process mode."""
    own = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    root = settings.METRICS_DIR
    directories = []
    if root and os.path.isdir(root):
        directories = sorted(str(path) for path in pathlib.Path(root).iterdir() if path.is_dir())
    if own and os.path.isdir(own) and os.path.realpath(own) not in {os.path.realpath(d) for d in directories}:
        directories.append(own)
    return directories


class SharedDirectoriesCollector:
    """prometheus_client's MultiProcessCollector over several directories at once."""

    def __init__(self, directories, pattern="*.db"):
        self.directories = directories
        self.pattern = pattern

    def collect(self):
        files = [file for directory in self.directories for file in glob.glob(os.path.join(directory, self.pattern))]
        return MultiProcessCollector.merge(files, accumulate=True)


def bridge_heartbeat():
    """Unix time of the MQTT bridge's newest loop step on this host; 0.0 when no bridge has run.

    Read from the bridge's live gauge (telemetry.metrics.BRIDGE_HEARTBEAT): its multiprocess file when
    the processes share a metrics directory, else this process's own value (a bridge run in-process).
    """
    from telemetry.metrics import BRIDGE_HEARTBEAT

    directories = multiprocess_directories()
    if not directories:
        return BRIDGE_HEARTBEAT._value.get()
    for family in SharedDirectoriesCollector(directories, "gauge_livemax_*.db").collect():
        if family.name == BRIDGE_HEARTBEAT._name:
            return max((sample.value for sample in family.samples), default=0.0)
    return 0.0


class _ProcessRegistry:
    """This process's default registry, as a collector."""

    def collect(self):
        return REGISTRY.collect()


# --- Gauges read from the database and Redis ---------------------------------------------------------


def _gauge(name, documentation, value):
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(name, documentation, labelnames, rows):
    """A gauge family with one sample per (label values…, value) in ``rows``."""
    family = GaugeMetricFamily(name, documentation, labels=labelnames)
    for *values, value in rows:
        family.add_metric([str(v) for v in values], value)
    return family


def _timestamp(moment):
    return moment.timestamp() if moment else 0.0


@contextlib.contextmanager
def _bounded_transaction():
    """A transaction whose statements PostgreSQL cancels after SECTION_STATEMENT_TIMEOUT_MS."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s", [SECTION_STATEMENT_TIMEOUT_MS])
        yield cursor


# Active wells with a reading since %(since)s, and without: one short descent of the readings' primary
# key (well_id, time) per active well, over the one or two daily partitions the window touches.
ACTIVE_WELLS_REPORTING = """
SELECT count(*) FILTER (WHERE recent.time IS NOT NULL), count(*) FILTER (WHERE recent.time IS NULL)
FROM wells_well w
LEFT JOIN LATERAL (
    SELECT r.time FROM telemetry_reading r
    WHERE r.well_id = w.id AND r.time >= %(since)s
    ORDER BY r.time DESC
    LIMIT 1
) recent ON true
WHERE w.status = 'active'
"""


def _database_section():
    with _bounded_transaction() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (size,) = cursor.fetchone()
    return [
        _gauge(*UP_GAUGES["database"], 1),
        _gauge("esp_database_size_bytes", "Size of the platform's database, bytes.", size),
    ]


def _wells_section(now):
    from wells.models import Well, WellStatus

    stale_after = datetime.timedelta(minutes=settings.DASHBOARD_STALE_AFTER_MINUTES)
    with _bounded_transaction() as cursor:
        counts = dict.fromkeys(WellStatus.values, 0)
        for row in Well.objects.values_list("status").order_by().annotate(n=Count("pk")):
            counts[row[0]] = row[1]
        cursor.execute(ACTIVE_WELLS_REPORTING, {"since": now - stale_after})
        reporting, stale = cursor.fetchone()
    return [
        _labelled("esp_wells", "Registered wells by status.", ["status"], counts.items()),
        _gauge(
            "esp_wells_reporting",
            "Active wells with a reading in the last DASHBOARD_STALE_AFTER_MINUTES.",
            reporting,
        ),
        _gauge(
            "esp_wells_stale",
            "Active wells without a reading in the last DASHBOARD_STALE_AFTER_MINUTES (silent or never reported).",
            stale,
        ),
    ]


def _alarms_section(now):
    from alarms.models import ALARM_SEVERITIES, OPEN_STATES, Alarm

    counts = {(state, severity): 0 for state in OPEN_STATES for severity in ALARM_SEVERITIES}
    with _bounded_transaction():
        rows = Alarm.objects.open().values_list("state", "peak_severity").order_by().annotate(n=Count("pk"))
        for state, severity, n in rows:
            counts[state, severity] = n
        oldest = (
            Alarm.objects.needing_action()
            .filter(peak_severity="critical")
            .aggregate(oldest=Min(Coalesce("unacknowledged_since", "activated_at")))["oldest"]
        )
    return [
        _labelled(
            "esp_alarms_open",
            "Open alarms (not closed) by state and peak severity.",
            ["state", "severity"],
            ((state, severity, n) for (state, severity), n in counts.items()),
        ),
        _gauge(
            "esp_alarms_critical_unacknowledged_age_seconds",
            "How long the oldest critical alarm needing action (unacknowledged, not shelved) has waited; 0: none.",
            (now - oldest).total_seconds() if oldest else 0.0,
        ),
    ]


def _notifications_section():
    try:
        from alarms.models import DeliveryStatus, NotificationChannel, NotificationDelivery
    except ImportError:  # the notification log is not part of this build
        return []
    counts = {(channel, status): 0 for channel in NotificationChannel.values for status in DeliveryStatus.values}
    with _bounded_transaction():
        for channel, status, n in (
            NotificationDelivery.objects.values_list("channel", "status").order_by().annotate(n=Count("pk"))
        ):
            counts[channel, status] = n
    return [
        _labelled(
            "esp_notification_deliveries",
            "Alarm notification deliveries in the delivery log, by channel and status "
            "(pending, sending, sent, failed = will retry, gave_up).",
            ["channel", "status"],
            ((channel, status, n) for (channel, status), n in counts.items()),
        )
    ]


def _rollups_section():
    from analytics.rollups import refresh_lag

    with _bounded_transaction():
        lag = refresh_lag()
    if lag is None:
        return []
    return [
        _gauge(
            "esp_rollup_lag_seconds",
            "Now minus the newest materialized hourly rollup bucket (grows when the refresh or ingestion stops).",
            lag.total_seconds(),
        )
    ]


def _timeseries_section(now):
    from telemetry.storage import storage_status

    with _bounded_transaction():
        status = storage_status()
    families = [
        _labelled(
            "esp_timeseries_backend_info",
            "The readings' storage backend (1 on the backend in use).",
            ["backend"],
            [(status["backend"] or "none", 1)],
        ),
        _gauge("esp_timeseries_size_bytes", "Size of the raw readings on disk, bytes.", status.get("total_bytes", 0)),
        _gauge(
            "esp_timeseries_retention_seconds",
            "Raw readings retention window (TELEMETRY_RETENTION_DAYS), seconds.",
            settings.TELEMETRY_RETENTION_DAYS * 86400,
        ),
    ]
    oldest = None
    if status["backend"] == "postgres":
        if status.get("first_day"):
            oldest = datetime.datetime.combine(status["first_day"], datetime.time.min, datetime.UTC)
        if status.get("last_day"):
            ahead = (status["last_day"] - now.date()).days
            families.append(
                _gauge(
                    "esp_timeseries_partitions_ahead_days",
                    "Days of readings partitions created ahead of today (maintain_storage keeps 7).",
                    ahead,
                )
            )
    elif status["backend"] == "timescaledb":
        oldest = status.get("first_chunk_start")
        jobs = status.get("jobs", [])
        families.append(
            _labelled(
                "esp_timeseries_policy_job_failed",
                "1 when the platform's last run of the TimescaleDB policy job failed (compression, retention, "
                "rollup refresh).",
                ["job", "relation"],
                [(job["proc_name"], job["relation"] or "", int(job["failing"])) for job in jobs],
            )
        )
        families.append(
            _labelled(
                "esp_timeseries_policy_job_last_success_timestamp_seconds",
                "Unix time the TimescaleDB policy job last finished successfully, run by anyone (0: never).",
                ["job", "relation"],
                [(job["proc_name"], job["relation"] or "", _timestamp(job["last_successful_finish"])) for job in jobs],
            )
        )
    if oldest is not None:
        families.append(
            _gauge(
                "esp_timeseries_oldest_data_age_seconds",
                "Age of the oldest partition or chunk of raw readings (past retention: retention is not running).",
                (now - oldest).total_seconds(),
            )
        )
    return families


def _backups_section():
    try:
        from operations.backups import latest_backup, latest_verification
    except ImportError:  # backups are not part of this build: as if none was ever made
        latest_backup = latest_verification = lambda: None
    with _bounded_transaction():
        backup = latest_backup()
        verification = latest_verification()
    return [
        _gauge(
            "esp_backup_last_success_timestamp_seconds",
            "Unix time the newest successful backup finished (0: none yet).",
            _timestamp(backup.finished_at) if backup else 0.0,
        ),
        _gauge(
            "esp_backup_last_size_bytes",
            "Size of the newest successful backup, bytes.",
            backup.size_bytes if backup else 0,
        ),
        _gauge(
            "esp_backup_last_duration_seconds",
            "How long the newest successful backup took, seconds.",
            (backup.duration_s or 0) if backup else 0,
        ),
        _gauge(
            "esp_backup_last_verification_timestamp_seconds",
            "Unix time of the newest restore verification, passed or failed (0: none yet).",
            _timestamp(verification.verified_at) if verification else 0.0,
        ),
        _gauge(
            "esp_backup_last_verification_passed",
            "1 when the newest restore verification passed, 0 when it failed or none was made.",
            int(verification is not None and verification.verification_status == "passed"),
        ),
        _gauge(
            "esp_backup_last_restore_duration_seconds",
            "How long the newest verification's test restore took, seconds.",
            (getattr(verification, "restore_s", None) or 0) if verification else 0,
        ),
    ]


def _beat_section():
    from django_celery_beat.models import PeriodicTask

    with _bounded_transaction():
        last = PeriodicTask.objects.aggregate(last=Max("last_run_at"))["last"]
    return [
        _gauge(
            "esp_celery_beat_last_run_timestamp_seconds",
            "Unix time beat last sent a periodic task (django-celery-beat saves it every few minutes; 0: never).",
            _timestamp(last),
        )
    ]


def _redis_section(now):
    from operations.workers import HEARTBEAT_STALE_SECONDS, queue_lengths, redis_client, worker_heartbeats

    client = redis_client()
    client.ping()
    beats = worker_heartbeats(client)
    families = [
        _gauge(*UP_GAUGES["redis"], 1),
        _gauge(
            "esp_celery_worker_heartbeat_timestamp_seconds",
            "Unix time of the newest Celery worker heartbeat (0: none).",
            max(beats.values(), default=0.0),
        ),
        _gauge(
            "esp_celery_workers_alive",
            f"Celery workers whose heartbeat is under {HEARTBEAT_STALE_SECONDS} s old.",
            sum(now.timestamp() - at <= HEARTBEAT_STALE_SECONDS for at in beats.values()),
        ),
    ]
    families.append(
        _labelled(
            "esp_celery_queue_length",
            "Messages waiting in a Celery queue on the broker (Redis LLEN, priorities included).",
            ["queue"],
            queue_lengths().items(),
        )
    )
    return families


def _migrations_section():
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    rows_unapplied, rows_applied = [], []
    for alias in connections:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        rows_unapplied.append((alias, len(plan)))
        rows_applied.append((alias, len(executor.loader.applied_migrations)))
    return [
        _labelled(
            "django_migrations_unapplied_total",
            "Count of unapplied migrations by database connection",
            ["connection"],
            rows_unapplied,
        ),
        _labelled(
            "django_migrations_applied_total",
            "Count of applied migrations by database connection",
            ["connection"],
            rows_applied,
        ),
    ]


def _host_section():
    families = []
    with contextlib.suppress(OSError, ValueError):
        meminfo = {}
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            meminfo[key] = int(rest.split()[0]) * 1024
        families.append(
            _gauge("esp_host_memory_total_bytes", "Memory of the web server's host, bytes.", meminfo["MemTotal"])
        )
        families.append(
            _gauge(
                "esp_host_memory_available_bytes",
                "Memory available for new work on the web server's host (MemAvailable), bytes.",
                meminfo["MemAvailable"],
            )
        )
    volumes = {"app": str(settings.BASE_DIR)}
    if settings.METRICS_DIR or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        volumes["metrics"] = settings.METRICS_DIR or os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if getattr(settings, "BACKUP_DIR", None):
        volumes["backups"] = str(settings.BACKUP_DIR)
    free = GaugeMetricFamily("esp_disk_free_bytes", "Free space for the platform's files, bytes.", labels=["volume"])
    total = GaugeMetricFamily("esp_disk_total_bytes", "Size of the file system, bytes.", labels=["volume"])
    for volume, path in volumes.items():
        with contextlib.suppress(OSError):
            stats = os.statvfs(path)
            free.add_metric([volume], stats.f_bavail * stats.f_frsize)
            total.add_metric([volume], stats.f_blocks * stats.f_frsize)
    return [*families, free, total]


# (name, reads the database, function of now or of nothing). A failed database section leaves its
# gauges out; "database" and "redis" say 0 instead, so alerts can tell "down" from "not scraped".
SECTIONS = (
    ("database", True, lambda now: _database_section()),
    ("wells", True, _wells_section),
    ("alarms", True, _alarms_section),
    ("notifications", True, lambda now: _notifications_section()),
    ("rollups", True, lambda now: _rollups_section()),
    ("timeseries", True, _timeseries_section),
    ("backups", True, lambda now: _backups_section()),
    ("beat", True, lambda now: _beat_section()),
    ("redis", False, _redis_section),
    ("host", False, lambda now: _host_section()),
)
UP_GAUGES = {
    "database": ("esp_database_up", "1 when the platform's PostgreSQL answered its last check, else 0."),
    "redis": ("esp_redis_up", "1 when Redis answered its last check, else 0."),
}


class PlatformCollector:
    """The gauges read from the database and Redis, cached for ``ttl`` seconds (per process).

    A scrape that finds the cache fresh costs nothing; one that finds it stale reads again, while any
    scrape arriving meanwhile gets the previous values rather than waiting (or queueing up behind a
    frozen database).
    """

    def __init__(self, ttl, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._families = []
        self._read_at = None
        self._migrations = []
        self._migrations_at = None

    def _fresh(self):
        return self._read_at is not None and self.clock() - self._read_at < self.ttl

    def collect(self):
        if not self._fresh():
            # The first read is waited for; later ones are not: the previous values serve meanwhile.
            first = self._read_at is None
            if self._lock.acquire(blocking=first, timeout=FIRST_READ_WAIT_SECONDS if first else -1):
                try:
                    if not self._fresh():
                        self._families = self._read()
                        self._read_at = self.clock()
                finally:
                    self._lock.release()
        return list(self._families)

    def _read(self):
        started = time.perf_counter()
        now = datetime.datetime.now(datetime.UTC)
        families = []
        up = GaugeMetricFamily(
            "esp_platform_collector_section_up",
            "1 when the section of /metrics read from the database or Redis was read without error.",
            labels=["section"],
        )
        database_ok = True
        for name, needs_database, read in SECTIONS:
            if needs_database and not database_ok:
                up.add_metric([name], 0)
                continue
            try:
                families.extend(read(now))
                up.add_metric([name], 1)
            except Exception as error:
                logger.warning("/metrics: could not read %s: %s", name, " ".join(str(error).split()))
                up.add_metric([name], 0)
                if name in UP_GAUGES:
                    families.append(_gauge(*UP_GAUGES[name], 0))
                if name == "database":
                    database_ok = False
                    with contextlib.suppress(Exception):
                        connection.close()  # the next read opens a fresh connection
        families.extend(self._migration_families(database_ok))
        families.append(up)
        families.append(
            _gauge(
                "esp_platform_collector_duration_seconds",
                "How long the last read of the database and Redis gauges took, seconds.",
                time.perf_counter() - started,
            )
        )
        return families

    def _migration_families(self, database_ok):
        due = self._migrations_at is None or self.clock() - self._migrations_at >= MIGRATIONS_EVERY_SECONDS
        if database_ok and due:
            try:
                self._migrations = _migrations_section()
                self._migrations_at = self.clock()
            except Exception as error:
                logger.warning("/metrics: could not read the migrations: %s", error)
        return list(self._migrations)


_platform = None
_platform_lock = threading.Lock()


def platform_collector():
    """This process's PlatformCollector (one cache per process)."""
    global _platform
    with _platform_lock:
        if _platform is None or _platform.ttl != settings.METRICS_CACHE_SECONDS:
            _platform = PlatformCollector(settings.METRICS_CACHE_SECONDS)
        return _platform


class _FirstNameWins:
    """Yields the families of several collectors, skipping a name an earlier collector already gave."""

    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        seen = set()
        for collector in self.collectors:
            for family in collector.collect():
                if family.name not in seen:
                    seen.add(family.name)
                    yield family


def exposition():
    """The text ``GET /metrics`` answers (Prometheus text format 0.0.4)."""
    directories = multiprocess_directories()
    processes = SharedDirectoriesCollector(directories) if directories else _ProcessRegistry()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_FirstNameWins(platform_collector(), processes))
    return generate_latest(registry)
