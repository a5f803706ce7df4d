"""Run the whole platform in the foreground: web server, Celery worker and beat, the MQTT bridge and
the live demo simulator, with their output interleaved and labelled.

The web server listens on 127.0.0.1:$PORT (default 8000; ``--port`` overrides). When that port is
taken the command says so and exits with status 1 before starting anything. The links are printed
once the web server answers /health, not before.

Ctrl-C (or SIGTERM) stops every process; if one of them dies, the others are stopped too and the
command exits with status 1, so a broken piece is never hidden behind the ones still running.

Metrics: each process keeps its Prometheus counts in ``$METRICS_DIR/<its label>`` (a temporary folder
when METRICS_DIR is unset), emptied before anything starts, so the web server's /metrics adds up the
web workers, the Celery worker, beat and the MQTT bridge (operations/metrics.py).
"""

import errno
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# How long gunicorn may take to answer /health after starting (imports, workers forking) before the
# platform is declared broken and stopped.
READY_DEADLINE_SECONDS = 60
HEALTH_POLL_SECONDS = 0.2

COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"

# /health is polled straight at 127.0.0.1, never through an HTTP(S)_PROXY from the environment.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def platform_processes(port, simulate):
    """(label, argv) for each process of the platform on this machine; the web server comes first."""
    python = sys.executable
    manage = [python, "manage.py"]
    processes = [
        # Threaded workers: a long CSV export to a slow client must not hit the sync worker's 30 s
        # timeout, and a slow client must not hold a whole worker.
        (
            "web",
            [
                python,
                *f"-m gunicorn -c config/gunicorn.py config.wsgi --bind {HOST}:{port} --workers 2 --threads 4".split(),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
        ),
        ("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"]),
        ("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]),
    ]
    processes.append(("mqtt", [*manage, "mqtt_ingest"]))
    if simulate:
        processes.append(("simulator", [*manage, "simulate", "--live", "--demo-faults"]))
    return processes


def empty_metrics_directories(metrics_dir, labels):
    """One empty metrics folder per process under ``metrics_dir``: counts of an earlier run must not add up."""
    from operations.workers import empty_metrics_directory

    for label in labels:
        empty_metrics_directory(os.path.join(metrics_dir, label))


def port_from_environment():
    """$PORT as a port number; DEFAULT_PORT when unset. CommandError for anything else."""
    value = os.environ.get("PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise CommandError(f"PORT must be a port number from 1 to 65535, got {value!r}.")
    return int(value)


def check_port_free(host, port):
    """Raises CommandError, naming PORT, when ``host:port`` can't be listened on (usually: taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As gunicorn does: a port whose last connections are in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use: is the platform (or another server) already "
                    f"running? Stop it, or choose another port with PORT, e.g. `PORT={port + 1} make run`."
                ) from None
            raise CommandError(
                f"Can't listen on {host}:{port} ({error.strerror}); choose another port with PORT, "
                f"e.g. `PORT=8080 make run`."
            ) from None


def health_status(url, timeout=1.0):
    """The HTTP status ``url`` answers with; None while nothing answers there."""
    try:
        with _direct.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


class Command(BaseCommand):
    help = (
        "Run the web server (on 127.0.0.1:$PORT, default 8000), Celery worker, beat, MQTT bridge and "
        "simulator together until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, help="Port of the web server (default: $PORT, else 8000).")
        parser.add_argument("--no-simulate", action="store_true", help="Do not start the live demo simulator.")

    def handle(self, *args, port, no_simulate, **options):
        port = port if port is not None else port_from_environment()
        check_port_free(HOST, port)

        metrics_dir = settings.METRICS_DIR or tempfile.mkdtemp(prefix="esp-platform-metrics-")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "METRICS_DIR": metrics_dir}
        processes = platform_processes(port, simulate=not no_simulate)
        empty_metrics_directories(metrics_dir, [label for label, _ in processes])
        width = max(len(label) for label, _ in processes)
        selector = selectors.DefaultSelector()
        running = {}

        def stop(*_):
            raise KeyboardInterrupt

        previous_sigterm = signal.signal(signal.SIGTERM, stop)
        failure = None
        try:
            for index, (label, argv) in enumerate(processes):
                child_env = {**env, "PROMETHEUS_MULTIPROC_DIR": os.path.join(metrics_dir, label)}
                child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env)
                prefix = f"{COLOURS[index % len(COLOURS)]}{label:<{width}} |{RESET} "
                selector.register(child.stdout, selectors.EVENT_READ, (label, prefix, child))
                running[label] = child
            failure = self.supervise(selector, running, port)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous_sigterm)
            for child in running.values():
                child.terminate()
            for child in running.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            if not settings.METRICS_DIR:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        if failure:
            raise CommandError(f"{failure}; the platform has stopped.")

    def supervise(self, selector, running, port):
        """Relays the children's output until one of them exits (Ctrl-C raises KeyboardInterrupt).

        Prints the links once the web server answers /health. Returns why the platform must stop: a
        child exited, or the web server didn't answer within READY_DEADLINE_SECONDS.
        """
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        ready = False
        while running:
            for key, _ in selector.select(timeout=HEALTH_POLL_SECONDS):
                label, prefix, child = key.data
                line = child.stdout.readline()
                if line:
                    sys.stdout.write(prefix + line.decode(errors="replace"))
                    sys.stdout.flush()
                    continue
                selector.unregister(child.stdout)
                running.pop(label, None)
                return f"{label} exited with status {child.wait()}"
            if not ready:
                status = health_status(f"{base}/health")
                if status is not None:
                    ready = True
                    self.announce(base, status)
                elif time.monotonic() > deadline:
                    return f"the web server did not answer {base}/health within {READY_DEADLINE_SECONDS} s"
        return None

    def announce(self, base, health):
        pages = {"Dashboards": "/", "Admin": "/admin/", "API docs": "/api/v1/docs", "Health": "/health"}
        links = "\n".join(f"  {name:<11} {base}{path}" for name, path in pages.items())
        self.stdout.write(self.style.SUCCESS(f"\nESP platform running:\n{links}\nCtrl-C stops everything.\n"))
        if health != 200:
            self.stderr.write(f"But {base}/health answered {health}, not 200: does ALLOWED_HOSTS include {HOST}?")
