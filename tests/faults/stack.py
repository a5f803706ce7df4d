"""The platform as it is deployed — gunicorn, Celery worker and beat, the MQTT bridge, each a process of its
own — on a PostgreSQL cluster, a Redis and a Mosquitto that the test (or the load run) starts itself, on
loopback ports from ``TEST_PORTS`` when set. Stopping, freezing or killing any of them is a real fault that
no other test, helper or engineer on the machine shares.

The cluster is made once (``initdb``, ``migrate``, wells and users seeded into a template database); each
``Stack`` works on a fresh copy of the template (``CREATE DATABASE … TEMPLATE``, a fraction of a second).
Every wait polls a condition against a deadline; none sleeps for a fixed time.
"""

import contextlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import requests

from tests.factories import TEST_PASSWORD
from tests.faults.mqtt import BRIDGE_USER, HOST, Broker
from tests.operations.processes import PG_BIN, PROJECT, ThrowawayCluster, free_port, manage, wait_until

TEMPLATE = "esp_template"
START_DEADLINE_S = 120
# Users seeded into the template, by role: the HTTP devices sign in as an operator, dashboard users and
# integrators as viewers (every API read and dashboard page is open to viewers).
OPERATOR = "fault_operator"
VIEWER = "fault_viewer"
# Environment of the process running the tests that must not leak into the platform's processes.
INHERITED_NOT = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MQTT_URL",
    "PROMETHEUS_MULTIPROC_DIR",
    "METRICS_DIR",
)
# The test's own cluster is plain PostgreSQL, whichever backend the suite itself runs on.
PLAIN_POSTGRESQL = {"TIMESERIES_BACKEND": "auto"}

# Run by ``manage.py shell -c`` with the wells and users as JSON in $SEED.
SEED = """
import json, os
from tests.factories import UserFactory, WellFactory
from wells.models import Well

seed = json.loads(os.environ["SEED"])
Well.objects.bulk_create(WellFactory.build(well_id=well_id, name=f"Well {well_id}") for well_id in seed["wells"])
for username, role in seed["users"]:
    UserFactory(username=username, role=role)
"""


def well_ids(count):
    return [f"WELL-{number:04d}" for number in range(1, count + 1)]


class Cluster(ThrowawayCluster):
    """The throwaway PostgreSQL cluster with a migrated, seeded template database."""

    def __init__(self, wells, users):
        if not (PG_BIN / "initdb").exists():
            import pytest

            pytest.skip(f"needs PostgreSQL 15's server binaries in {PG_BIN}")
        super().__init__()
        self.execute(f"CREATE DATABASE {TEMPLATE}")
        environment = {"DATABASE_URL": self.url(TEMPLATE), "REDIS_URL": "redis://127.0.0.1:1/0", **PLAIN_POSTGRESQL}
        manage("migrate", "--no-input", environment=environment)
        seed = json.dumps({"wells": well_ids(wells), "users": users})
        manage("shell", "-c", SEED, environment={**environment, "SEED": seed})
        self._copies = itertools.count(1)

    def execute(self, statement, database="postgres"):
        with contextlib.closing(psycopg.connect(self.url(database))) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if cursor.description else None

    def fresh_database(self):
        name = f"esp_{next(self._copies)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return name

    def accepts_connections(self):
        with contextlib.suppress(psycopg.OperationalError):
            self.execute("SELECT 1")
            return True
        return False


class Redis:
    """redis-server on a loopback port, appending to its own AOF (so a stop and start keeps Celery's queue,
    as a production Redis must)."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="esp-faults-redis-"))
        self.port = free_port()
        self.process = None

    def url(self, db=0):
        return f"redis://{HOST}:{self.port}/{db}"

    def start(self):
        program = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - open while the server runs
        self.process = subprocess.Popen(
            [program, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "yes",
             "--dir", str(self.directory)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self.answers, lambda: f"redis-server does not answer on {self.port}")

    def answers(self):
        import redis

        with contextlib.suppress(redis.RedisError):
            return redis.Redis(host=HOST, port=self.port, socket_timeout=1).ping()
        return False

    def stop(self):
        """SIGTERM: Redis writes its AOF and exits, as ``docker compose stop`` has it."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()

    def freeze(self):
        """SIGSTOP: connections stay open and nothing answers — a hung server, not a refused one."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)

    def remove(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.directory, ignore_errors=True)


class PlatformProcess:
    """One of the platform's processes, its output in a file (for failure messages and its ready line)."""

    def __init__(self, name, argv, environment, directory, ready_line=None, ready_url=None):
        self.name = name
        self.argv = argv
        self.environment = environment
        self.log_path = directory / f"{name}.log"
        self.ready_line = ready_line
        self.ready_url = ready_url
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            # A session of its own: killing the group takes a Celery worker's pool or gunicorn's workers too.
            self.process = subprocess.Popen(
                self.argv, cwd=PROJECT, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(self._ready, lambda: f"{self.name} did not become ready:\n{self.log()}", START_DEADLINE_S)
        return self

    def _ready(self):
        assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
        if self.ready_url:
            with contextlib.suppress(requests.RequestException):
                return requests.get(self.ready_url, timeout=2).status_code == 200
            return False
        return self.ready_line in self.log()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL to the process and every child: no cleanup, no acknowledgement, no goodbye."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self):
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self, tail=8000):
        """The last ``tail`` characters of the output (None: all of it)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] if tail else text

    def tree(self):
        """psutil handles on the process and its children (gunicorn's and Celery's workers)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        return []


class Stack:
    """A Redis and a Mosquitto of its own, a fresh database on ``cluster``, and the platform's processes."""

    def __init__(self, cluster, mqtt_users=()):
        self.cluster = cluster
        self.directory = Path(tempfile.mkdtemp(prefix="esp-faults-stack-"))
        self.database = cluster.fresh_database()
        self.redis = Redis()
        self.redis.start()
        broker_directory = Path(tempfile.mkdtemp(prefix="esp-faults-mqtt-"))
        users = {BRIDGE_USER: secrets.token_urlsafe(16), **{user: secrets.token_urlsafe(8) for user in mqtt_users}}
        self.broker = Broker(broker_directory, users)
        self.broker.start()
        self.processes = []
        self.metrics = self.directory / "metrics"

    @property
    def database_url(self):
        return self.cluster.url(self.database)

    def environment(self, name, **extra):
        """What a platform process gets: this environment's settings, pointed at the stack's services."""
        metrics = self.metrics / name
        metrics.mkdir(parents=True, exist_ok=True)
        return {
            **{key: value for key, value in os.environ.items() if key not in INHERITED_NOT},
            "DATABASE_URL": self.database_url,
            **PLAIN_POSTGRESQL,
            "REDIS_URL": self.redis.url(0),
            "MQTT_URL": f"mqtt://{BRIDGE_USER}:{self.broker.users[BRIDGE_USER]}@{HOST}:{self.broker.port}",
            "MQTT_TOPIC": "esp/+/telemetry",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "LOG_FORMAT": "plain",
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def _add(self, process):
        self.processes.append(process)
        return process.start()

    def web(self, name="web", workers=2, threads=4, port=None, access_log=False, **extra):
        """gunicorn with config/gunicorn.py, as ``manage.py runplatform`` starts it (``access_log``: a line per
        request in its output, to count who served what)."""
        port = port or free_port()
        argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi",
                "--bind", f"{HOST}:{port}", "--workers", str(workers), "--threads", str(threads),
                "--graceful-timeout", "5", "--log-level", "warning",
                *(["--access-logfile", "-"] if access_log else [])]  # fmt: skip
        process = PlatformProcess(
            name, argv, self.environment(name, **extra), self.directory, ready_url=f"http://{HOST}:{port}/health"
        )
        process.base = f"http://{HOST}:{port}"
        process.address = (HOST, port)
        return self._add(process)

    def worker(self, name="worker", concurrency=2, **extra):
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip",
                "--without-mingle"]  # fmt: skip
        return self._add(PlatformProcess(name, argv, self.environment(name, **extra), self.directory, " ready."))

    def beat(self, name="beat", **extra):
        schedule = self.directory / "beat-schedule"
        argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "-s", str(schedule)]
        return self._add(PlatformProcess(name, argv, self.environment(name, **extra), self.directory, "Starting"))

    def bridge(self, name="bridge", client_id=None, **extra):
        environment = self.environment(name, MQTT_CLIENT_ID=client_id or f"faults-{name}", **extra)
        argv = [sys.executable, "manage.py", "mqtt_ingest", "--summary-every", "5"]
        return self._add(PlatformProcess(name, argv, environment, self.directory, "subscribed to"))

    def readings(self):
        """(rows, distinct (well, time)) in the readings table, as a session of the test's own sees it."""
        return tuple(
            self.cluster.execute(
                "SELECT count(*), count(DISTINCT (well_id, time)) FROM telemetry_reading", self.database
            )[0]
        )

    def stored_keys(self):
        """{(well id, reading time as ISO text)} of every stored reading."""
        rows = self.cluster.execute(
            "SELECT w.well_id, to_char(r.time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM telemetry_reading r JOIN wells_well w ON w.id = r.well_id",
            self.database,
        )
        return set(rows)

    def logs(self):
        return "\n".join(f"--- {p.name}\n{p.log()}" for p in self.processes)

    def close(self):
        for process in reversed(self.processes):
            if process.alive():
                process.kill()
        self.broker.kill()
        shutil.rmtree(self.broker.directory, ignore_errors=True)
        self.redis.remove()
        shutil.rmtree(self.directory, ignore_errors=True)
        with contextlib.suppress(AssertionError, psycopg.Error):
            if self.cluster.accepts_connections():
                self.cluster.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


def messages_taken(bridge):
    """Messages a bridge took from the broker, added up over its runs (each run's last summary line; a
    run that was killed counts up to its last summary, every 5 s)."""
    runs = bridge.log(None).split("MQTT bridge: connecting to")[1:]
    return sum(int(found[-1]) for run in runs if (found := re.findall(r"(\d+) messages received", run)))


def sign_in(base, username, password=TEST_PASSWORD):
    """An access token from POST /api/v1/auth/login."""
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def wait_for(condition, describe, deadline_s):
    """``wait_until`` with its deadline; returns seconds waited and the condition's value."""
    started = time.monotonic()
    value = wait_until(condition, describe, deadline_s)
    return time.monotonic() - started, value
