"""Real processes for the operations tests: gunicorn with the project's config, a PostgreSQL cluster of the
test's own, Prometheus; and reading the Prometheus text format back.

Every wait polls a condition against a deadline (CI is a loaded 2-core machine); none sleeps for a time.
"""

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

PROJECT = pathlib.Path(__file__).resolve().parents[2]
# Upper bounds on waiting for a process to come up or a condition to hold; never timing assumptions.
DEADLINE_SECONDS = 90
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")


_last_port = {}


def free_port():
    """A loopback port nobody listens on: from ``TEST_PORTS`` (``first-last``) when set, so that servers a
    test starts stay in a range agreed for this machine, else one the kernel picks. Within the range the
    ports are handed out in turn, so two asked for before either server binds differ."""
    first, _, last = os.environ.get("TEST_PORTS", "").partition("-")
    if not first:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]
    ports = list(range(int(first), int(last or first) + 1))
    start = ports.index(_last_port[first]) + 1 if first in _last_port else 0
    for port in ports[start:] + ports[:start]:
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind(("127.0.0.1", port))
            _last_port[first] = port
            return port
    raise RuntimeError(f"no free port in TEST_PORTS={os.environ['TEST_PORTS']}")


def wait_until(condition, describe, deadline_s=DEADLINE_SECONDS):
    """Poll ``condition`` until it returns something true (returned); fail with ``describe()`` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, describe()
        time.sleep(0.05)  # polling a condition with a deadline, not waiting for time to pass


def database_url(settings_dict=None):
    """The test database (or ``settings_dict``'s), as DATABASE_URL for another process."""
    db = settings_dict or connection.settings_dict
    password = f":{urllib.parse.quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def samples(text):
    """{(sample name, frozenset of label items): value} from Prometheus text format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text_or_samples, name, **labels):
    """The value of one sample (None when absent)."""
    found = samples(text_or_samples) if isinstance(text_or_samples, str) else text_or_samples
    return found.get((name, frozenset(labels.items())))


class ServedProcess:
    """A server process on a free loopback port, its output kept for failure messages; ready once
    ``ready_path`` answers 200. Subclasses build the command line."""

    name = "server"
    ready_path = "/"
    log_tail = 6000

    def start(self, argv, *, cwd, env=None):
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, open while it runs
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.output, stderr=subprocess.STDOUT)
        wait_until(self._answers, lambda: f"{self.name} did not answer {self.ready_path}:\n{self.log()}")

    def _answers(self):
        assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.base}{self.ready_path}", timeout=2).status_code == 200
        return False

    def log(self):
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-self.log_tail :]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.output.close()


class Gunicorn(ServedProcess):
    """gunicorn serving the project with config/gunicorn.py on a free loopback port."""

    name = "gunicorn"
    ready_path = "/health"

    def __init__(self, environment, workers=2, threads=2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.start(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--threads", str(threads),
             "--graceful-timeout", "5", "--log-level", "warning"],
            cwd=PROJECT,
            env={key: value for key, value in {**os.environ, "PYTHONUNBUFFERED": "1", **environment}.items()
                 if value is not None},
        )  # fmt: skip

    def workers(self):
        """Pids of the worker processes alive now."""
        import psutil

        return sorted(child.pid for child in psutil.Process(self.process.pid).children() if child.is_running())

    def get(self, path, **options):
        return requests.get(f"{self.base}{path}", timeout=30, **options)


@contextlib.contextmanager
def gunicorn(environment, **options):
    server = Gunicorn(environment, **options)
    try:
        yield server
    finally:
        server.stop()


class ThrowawayCluster:
    """A PostgreSQL 15 cluster of the test's own in a temporary folder, on a free port.

    Stopping it is a real database outage that no other test or engineer shares. As root, the server
    runs as the ``postgres`` user (PostgreSQL refuses to run as root).
    """

    def __init__(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="esp-throwaway-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, tool, *arguments):
        command = [str(PG_BIN / tool), *arguments]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{tool} failed:\n{result.stdout}\n{result.stderr}"

    def start(self):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode="immediate"):
        """``immediate`` is a crash (recovery from the WAL on start); ``fast`` a clean shutdown that
        disconnects every session."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self):
        """A clean restart (``pg_ctl restart -m fast``): every session is cut."""
        self.stop("fast")
        self.start()

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def remove(self):
        with contextlib.suppress(AssertionError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_cluster():
    if not (PG_BIN / "initdb").exists():
        import pytest

        pytest.skip(f"needs PostgreSQL 15's server binaries in {PG_BIN}")
    cluster = ThrowawayCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def manage(*arguments, environment):
    """Run manage.py in a subprocess with ``environment`` on top of this one's; asserts it succeeded."""
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
    return result
