"""Readiness: can this web server do its job, and is the rest of the platform keeping up?

``readiness()`` runs every check at once, each in a thread of its own with its own deadline
(``READY_CHECK_TIMEOUT_SECONDS``), and answers within about that long whatever hangs: a check that has
not answered by then counts as failed ("no answer within 2 s"). A check still stuck from an earlier
call is not started again (its component says so), so a frozen dependency polled by a load balancer
every few seconds cannot pile up threads or connections.

Components and what a failure means (README "Operations: metrics and health"):

- **unhealthy** (HTTP 503: take this server out of rotation) — this server cannot serve the API:
  ``database`` does not answer, or ``timeseries`` finds no readings table (not migrated).
- **degraded** (HTTP 200) — the API works but part of the platform is behind or down: ``redis``,
  ``celery_worker`` (no heartbeat for 30 s), ``celery_beat`` (no periodic task sent for 10 min),
  ``rollups`` (lag over 2 h), ``mqtt_bridge`` (no heartbeat for 30 s), ``backup`` (none, or older than
  the recovery-point target ``BACKUP_RPO_HOURS``), ``backup_verification`` (none, failed, or the newest
  passed one older than ``BACKUP_RPO_HOURS``), and ``timeseries``' partitions and policies.

None of the degraded ones makes a load balancer drop the web servers: with a worker down, every web
server would fail alike and the API would go down with it.
"""

import contextlib
import dataclasses
import datetime
import math
import threading
import time

from django.conf import settings
from django.db import connections

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}

# Thresholds (policy, documented in the README).
WORKER_HEARTBEAT_MAX_AGE = datetime.timedelta(seconds=30)
BRIDGE_HEARTBEAT_MAX_AGE = datetime.timedelta(seconds=30)
# Beat's most frequent tasks run every minute, but django-celery-beat saves last_run_at only every
# few minutes (its sync interval), so a healthy beat can look 3–4 minutes old.
BEAT_MAX_AGE = datetime.timedelta(minutes=10)
ROLLUP_MAX_LAG = datetime.timedelta(hours=2)
# The readings' partitions must reach at least tomorrow (maintain_storage keeps 7 days ahead; ingest
# creates a missing one on demand, so fewer is degraded, not unhealthy).
PARTITIONS_AHEAD_MIN_DAYS = 1
# Past retention, how much older the oldest raw data may be before retention counts as not running
# (it runs hourly and drops whole days).
RETENTION_SLACK = datetime.timedelta(days=2)


class CheckFailed(Exception):
    """A check's finding that its component is not healthy; ``str()`` is the detail."""


@dataclasses.dataclass(frozen=True)
class Component:
    status: str
    detail: str
    latency_ms: float

    def as_dict(self):
        return {"status": self.status, "detail": self.detail, "latency_ms": self.latency_ms}


@dataclasses.dataclass(frozen=True)
class Check:
    """One readiness check: ``run(now)`` returns a detail (healthy) or raises; failing means ``fails_as``.

    ``run`` may return ``(status, detail)`` to report a status milder than ``fails_as`` itself.
    ``timeout``: seconds it may take (default ``READY_CHECK_TIMEOUT_SECONDS``).
    """

    name: str
    run: object
    fails_as: str = DEGRADED
    timeout: float | None = None


def _age(moment, now):
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _size(size_bytes):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size_bytes < 1024 or unit == "GiB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024
    return None  # not reached


# --- The checks ----------------------------------------------------------------------------------


def check_database(now, timeout):
    """A new connection (not the pool's) with a connect timeout, and ``SELECT 1``."""
    import psycopg

    wrapper = connections["default"]
    params = dict(wrapper.get_connection_params())
    params.pop("cursor_factory", None)
    params["connect_timeout"] = max(2, math.ceil(timeout))  # libpq's minimum is 2 s
    params["options"] = f"{params.get('options', '')} -c statement_timeout={int(timeout * 1000)}".strip()
    try:
        link = psycopg.connect(**params)
    except psycopg.Error as error:
        raise CheckFailed(f"cannot connect to PostgreSQL at {_where(params)}: {_one_line(error)}") from None
    try:
        with link.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            (version,) = cursor.fetchone()
    except psycopg.Error as error:
        raise CheckFailed(f"PostgreSQL at {_where(params)} did not answer SELECT: {_one_line(error)}") from None
    finally:
        link.close()
    return f"PostgreSQL {version} at {_where(params)}"


def _where(params):
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname')}"


def _one_line(error):
    return " ".join(str(error).split())


def check_timeseries(now, timeout):
    """The readings table exists (else unhealthy); its partitions reach ahead and retention runs, or
    TimescaleDB's compression and retention policies exist and no policy job is failing (else degraded)."""
    from telemetry.storage import storage_status

    status = storage_status()
    backend = status["backend"]
    if backend is None:
        raise CheckFailed("no readings table: the database is not migrated (manage.py migrate)")
    problems = []
    retention = datetime.timedelta(days=status["retention_days"])
    if backend == "postgres":
        described = f"postgres, {status['partitions']} daily partitions"
        if status["last_day"] is None or (status["last_day"] - now.date()).days < PARTITIONS_AHEAD_MIN_DAYS:
            problems.append(
                f"no readings partition for tomorrow (newest: {status['last_day']}): is the hourly "
                "telemetry.tasks.maintain_storage task running?"
            )
        oldest = (
            datetime.datetime.combine(status["first_day"], datetime.time.min, datetime.UTC)
            if status["first_day"]
            else None
        )
    else:
        described = (
            f"timescaledb {status['version']}, {status['chunks']} chunks ({status['compressed_chunks']} compressed)"
        )
        readings_jobs = {job["proc_name"] for job in status["jobs"] if job["relation"] == "telemetry_reading"}
        problems.extend(
            f"no {proc} job on the readings"
            for proc in ("policy_compression", "policy_retention")
            if proc not in readings_jobs
        )
        problems.extend(
            f"{job['proc_name']} job {job['job_id']} on {job['relation'] or 'the job history'} failed its last run"
            for job in status["jobs"]
            if job["failing"]
        )
        oldest = status["first_chunk_start"]
    if oldest is not None and now - oldest > retention + RETENTION_SLACK:
        problems.append(
            f"raw readings go back {_age(oldest, now)}, past the {status['retention_days']}-day retention: "
            "is retention running?"
        )
    detail = f"{described}, {_size(status['total_bytes'])}"
    if problems:
        return DEGRADED, f"{detail}; " + "; ".join(problems)
    return detail


def check_redis(now, timeout):
    from operations.workers import redis_client

    try:
        redis_client().ping()
    except Exception as error:
        raise CheckFailed(f"Redis does not answer: {_one_line(error)}") from None
    return "PING answered"


def check_celery_worker(now, timeout):
    from operations.workers import worker_heartbeats

    try:
        beats = worker_heartbeats()
    except Exception as error:
        raise CheckFailed(f"cannot read the worker heartbeats from Redis: {_one_line(error)}") from None
    if not beats:
        raise CheckFailed("no Celery worker has sent a heartbeat (is a worker running, without --without-heartbeat?)")
    newest = datetime.datetime.fromtimestamp(max(beats.values()), datetime.UTC)
    alive = sum(
        now - datetime.datetime.fromtimestamp(at, datetime.UTC) <= WORKER_HEARTBEAT_MAX_AGE for at in beats.values()
    )
    if now - newest > WORKER_HEARTBEAT_MAX_AGE:
        raise CheckFailed(f"the newest Celery worker heartbeat is {_age(newest, now)} old")
    return f"{alive} worker(s) alive; newest heartbeat {_age(newest, now)} ago"


def check_celery_beat(now, timeout):
    from django.db.models import Max
    from django_celery_beat.models import PeriodicTask

    last = PeriodicTask.objects.aggregate(last=Max("last_run_at"))["last"]
    if last is None:
        raise CheckFailed("beat has not sent any periodic task yet")
    if now - last > BEAT_MAX_AGE:
        raise CheckFailed(f"beat last sent a periodic task {_age(last, now)} ago")
    return f"last periodic task sent {_age(last, now)} ago"


def check_rollups(now, timeout):
    from analytics.rollups import refresh_lag

    lag = refresh_lag()
    if lag is None:
        return "nothing materialized yet"
    if lag > ROLLUP_MAX_LAG:
        raise CheckFailed(
            f"the newest materialized hour is {_age(now - lag, now)} old: is analytics.refresh_rollups running "
            "(and is anything being ingested)?"
        )
    return f"newest materialized hour {_age(now - lag, now)} old"


def check_mqtt_bridge(now, timeout):
    from operations.metrics import bridge_heartbeat

    beat = bridge_heartbeat()
    if not beat:
        raise CheckFailed(
            "no MQTT bridge heartbeat on this host (manage.py mqtt_ingest not running, or not sharing METRICS_DIR)"
        )
    at = datetime.datetime.fromtimestamp(beat, datetime.UTC)
    if now - at > BRIDGE_HEARTBEAT_MAX_AGE:
        raise CheckFailed(f"the MQTT bridge's last heartbeat is {_age(at, now)} old")
    return f"heartbeat {_age(at, now)} ago"


def _backups():
    try:
        from operations import backups
    except ImportError:
        return None
    return backups


def check_backup(now, timeout):
    backups = _backups()
    backup = backups.latest_backup() if backups else None
    if backup is None:
        raise CheckFailed("no backup yet")
    limit = datetime.timedelta(hours=settings.BACKUP_RPO_HOURS)
    described = f"{backup.file} ({_size(backup.size_bytes or 0)}, {backup.duration_s or 0:.0f} s)"
    if now - backup.finished_at > limit:
        raise CheckFailed(
            f"the newest backup is {_age(backup.finished_at, now)} old (limit {settings.BACKUP_RPO_HOURS} h): "
            f"{described}"
        )
    return f"{described} finished {_age(backup.finished_at, now)} ago"


def check_backup_verification(now, timeout):
    backups = _backups()
    verified = backups.latest_verification() if backups else None
    if verified is None:
        raise CheckFailed("no backup has been verified by a test restore yet")
    if verified.verification_status != "passed":
        raise CheckFailed(
            f"the newest verification ({verified.file}, {_age(verified.verified_at, now)} ago) "
            f"{verified.verification_status or 'did not finish'}: {verified.verification_detail}"
        )
    limit = datetime.timedelta(hours=settings.BACKUP_RPO_HOURS)
    if now - verified.verified_at > limit:
        raise CheckFailed(
            f"the newest passed verification is {_age(verified.verified_at, now)} old "
            f"(limit {settings.BACKUP_RPO_HOURS} h)"
        )
    restore = f", restored in {verified.restore_s:.0f} s" if verified.restore_s else ""
    return f"{verified.file} passed {_age(verified.verified_at, now)} ago{restore}"


CHECKS = (
    Check("database", check_database, fails_as=UNHEALTHY),
    Check("timeseries", check_timeseries, fails_as=UNHEALTHY),
    Check("redis", check_redis),
    Check("celery_worker", check_celery_worker),
    Check("celery_beat", check_celery_beat),
    Check("rollups", check_rollups),
    Check("mqtt_bridge", check_mqtt_bridge),
    Check("backup", check_backup),
    Check("backup_verification", check_backup_verification),
)


# --- Running them ---------------------------------------------------------------------------------

# Per check name: the thread of its newest run, while it has not finished (single flight per process).
_running = {}
_running_lock = threading.Lock()


class _Run:
    def __init__(self, check, now, timeout):
        self.check = check
        self.timeout = timeout
        self.started = time.perf_counter()
        self.result = None
        self.done = threading.Event()
        self.thread = threading.Thread(
            target=self._target, args=(now, timeout), name=f"ready-{check.name}", daemon=True
        )

    def _target(self, now, timeout):
        try:
            outcome = self.check.run(now, timeout)
            status, detail = outcome if isinstance(outcome, tuple) else (HEALTHY, outcome)
        except CheckFailed as failure:
            status, detail = self.check.fails_as, str(failure)
        except Exception as error:
            status, detail = self.check.fails_as, f"{type(error).__name__}: {_one_line(error)}"
        self.result = Component(status, detail, round((time.perf_counter() - self.started) * 1000, 1))
        self.done.set()
        with contextlib.suppress(Exception):
            connections.close_all()  # this thread's own connections; nobody else would close them


def readiness(checks=CHECKS, now=None):
    """``{"status": …, "components": {name: {"status", "detail", "latency_ms"}}}``; see the module docstring."""
    now = now or datetime.datetime.now(datetime.UTC)
    runs, components = {}, {}
    with _running_lock:
        for check in checks:
            previous = _running.get(check.name)
            if previous is not None and not previous.done.is_set():
                waited = time.perf_counter() - previous.started
                components[check.name] = Component(
                    check.fails_as, f"no answer: the previous check, started {waited:.0f} s ago, is still waiting", 0.0
                )
                continue
            timeout = check.timeout or settings.READY_CHECK_TIMEOUT_SECONDS
            run = _running[check.name] = runs[check.name] = _Run(check, now, timeout)
            run.thread.start()
    for name, run in runs.items():
        if run.done.wait(max(0.0, run.started + run.timeout - time.perf_counter())):
            components[name] = run.result
        else:
            components[name] = Component(
                run.check.fails_as, f"no answer within {run.timeout:g} s", round(run.timeout * 1000, 1)
            )
    ordered = {check.name: components[check.name].as_dict() for check in checks}
    worst = max((component["status"] for component in ordered.values()), key=_RANK.__getitem__, default=HEALTHY)
    return {"status": worst, "components": ordered}
