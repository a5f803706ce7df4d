"""Celery workers seen from outside: the heartbeat they leave in Redis, their failed tasks, their queue.

Connected to Celery's signals by ``OperationsConfig.ready()`` in every process; they only fire in the
processes where Celery sends them (the worker's main process and its pool children).

- **Heartbeat.** A worker sends an event heartbeat every 2 s while its consumer runs (Celery's default;
  ``--without-heartbeat`` turns it off, and with it this). Each one sets the worker's field in one Redis
  hash to the time, so readiness and ``/metrics`` read every worker's liveness with one HGETALL instead
  of broadcasting ``celery inspect ping`` and waiting out its timeout. The hash lives in the cache's
  Redis, which the worker needs anyway (its broker is Redis by default).
- **Failures.** ``task_failure`` counts ``esp_celery_task_failures_total{task}`` in the pool process that
  ran the task; the per-process files of multiprocess mode add them up for the web's ``/metrics``.
- **Metrics directory.** The worker's main process empties its own ``PROMETHEUS_MULTIPROC_DIR`` when it
  starts (before forking its pool), and each pool process drops its live gauges when it exits.
"""

import logging
import os
import pathlib
import time

from celery import signals
from django.conf import settings
from prometheus_client import Counter

logger = logging.getLogger(__name__)

# Heartbeats older than this are a worker that stopped (the worker writes one every 2 s).
HEARTBEAT_STALE_SECONDS = 30
# A heartbeat field untouched for this long is a worker gone for good: the writer prunes it.
HEARTBEAT_FORGET_SECONDS = 24 * 3600
# How often one worker rewrites its heartbeat at most (its event heartbeat comes every 2 s).
HEARTBEAT_EVERY_SECONDS = 5

TASK_FAILURES = Counter("esp_celery_task_failures", "Celery tasks that raised, by task name.", ["task"])


def heartbeat_key():
    return f"{settings.CACHES['default'].get('KEY_PREFIX') or 'esp'}:celery:worker-heartbeats"


def redis_client():
    """The cache's Redis connection (0.25 s timeouts: a frozen Redis costs milliseconds)."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def worker_heartbeats(client=None):
    """{worker hostname: Unix time of its newest heartbeat}. Raises redis errors."""
    raw = (client or redis_client()).hgetall(heartbeat_key())
    return {name.decode(): float(value) for name, value in raw.items()}


def queue_names():
    """The queues workers consume: the default one and any named in the task routes."""
    from config.celery import app

    names = {app.conf.task_default_queue or "celery"}
    routes = app.conf.task_routes or {}
    if isinstance(routes, dict):
        names.update(route["queue"] for route in routes.values() if isinstance(route, dict) and "queue" in route)
    return sorted(names)


def queue_lengths():
    """{queue: messages waiting} on a Redis broker, priority sub-queues included; {} on any other broker."""
    from redis import Redis

    from config.celery import app

    url = app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    separator = app.conf.broker_transport_options.get("sep", "\x06\x16")
    steps = app.conf.broker_transport_options.get("priority_steps", [0, 3, 6, 9])
    client = Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
    try:
        lengths = {}
        with client.pipeline(transaction=False) as pipe:
            names = queue_names()
            for name in names:
                for step in steps:
                    pipe.llen(name if not step else f"{name}{separator}{step}")
            counts = pipe.execute()
        for index, name in enumerate(names):
            lengths[name] = sum(counts[index * len(steps) : (index + 1) * len(steps)])
        return lengths
    finally:
        client.close()


# --- Signal handlers ----------------------------------------------------------------------------

_last_beat = {"at": 0.0}


def on_heartbeat_sent(sender=None, **kwargs):
    """Celery sent its event heartbeat: record it in Redis (at most every HEARTBEAT_EVERY_SECONDS)."""
    now = time.time()
    if now - _last_beat["at"] < HEARTBEAT_EVERY_SECONDS:
        return
    _last_beat["at"] = now
    hostname = getattr(getattr(sender, "eventer", None), "hostname", None) or f"worker-{os.getpid()}"
    try:
        client = redis_client()
        key = heartbeat_key()
        client.hset(key, hostname, repr(now))
        forgotten = [name for name, at in worker_heartbeats(client).items() if now - at > HEARTBEAT_FORGET_SECONDS]
        if forgotten:
            client.hdel(key, *forgotten)
    except Exception as error:  # Redis down: readiness reports Redis; the worker must go on
        logger.debug("Could not record the worker heartbeat: %s", error)


def on_task_failure(sender=None, **kwargs):
    TASK_FAILURES.labels(getattr(sender, "name", None) or "unknown").inc()


def on_worker_init(**kwargs):
    """The worker's main process starts: its metrics files from an earlier run are stale."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        empty_metrics_directory(directory)


def on_worker_process_shutdown(**kwargs):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), directory)


def empty_metrics_directory(directory):
    """Create ``directory`` if needed and delete the metrics files in it (``*.db``)."""
    path = pathlib.Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def connect():
    """Connect the handlers (idempotent: Celery's signals ignore a receiver connected twice)."""
    signals.heartbeat_sent.connect(on_heartbeat_sent, weak=False, dispatch_uid="esp-worker-heartbeat")
    signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="esp-task-failures")
    signals.worker_init.connect(on_worker_init, weak=False, dispatch_uid="esp-worker-metrics-dir")
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False, dispatch_uid="esp-worker-dead")
    for task in settings.CELERY_BEAT_SCHEDULE.values():  # a series per scheduled task, 0 until it fails
        TASK_FAILURES.labels(task["task"])
