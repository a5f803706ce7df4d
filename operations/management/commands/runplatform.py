"""Run the whole platform in the foreground: web server, Celery worker and beat, and the MQTT
bridge and live simulator once those exist, with their output interleaved and labelled.

Ctrl-C (or SIGTERM) stops every process; if one of them dies, the others are stopped too, so a
broken piece is never hidden behind the ones still running.
"""

import contextlib
import os
import selectors
import signal
import subprocess
import sys

from django.core.management import get_commands
from django.core.management.base import BaseCommand
from django.urls import NoReverseMatch, reverse

COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"


def platform_processes(port, simulate):
    """(label, argv) for each process of the platform on this machine."""
    python = sys.executable
    manage = [python, "manage.py"]
    processes = [
        # Threaded workers: a long CSV export to a slow client must not hit the sync worker's 30 s
        # timeout, and a slow client must not hold a whole worker.
        (
            "web",
            [
                python,
                *f"-m gunicorn config.wsgi --bind 127.0.0.1:{port} --workers 2 --threads 4".split(),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
        ),
        ("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"]),
        ("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]),
    ]
    commands = get_commands()
    if "mqtt_ingest" in commands:
        processes.append(("mqtt", [*manage, "mqtt_ingest"]))
    if simulate and "simulate" in commands:
        processes.append(("simulator", [*manage, "simulate", "--live", "--demo-faults"]))
    return processes


class Command(BaseCommand):
    help = "Run the web server, Celery worker, beat, MQTT bridge and simulator together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-simulate", action="store_true", help="Do not start the live demo simulator.")

    def handle(self, *args, port, no_simulate, **options):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = platform_processes(port, simulate=not no_simulate)
        width = max(len(label) for label, _ in processes)
        selector = selectors.DefaultSelector()
        running = {}
        for index, (label, argv) in enumerate(processes):
            child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            prefix = f"{COLOURS[index % len(COLOURS)]}{label:<{width}} |{RESET} "
            selector.register(child.stdout, selectors.EVENT_READ, (label, prefix, child))
            running[label] = child

        base = f"http://127.0.0.1:{port}"
        pages = {"Admin": "/admin/", "API docs": "/api/v1/docs", "Health": "/health"}
        with contextlib.suppress(NoReverseMatch):  # until the dashboards exist
            pages = {"Dashboards": reverse("dashboard"), **pages}
        links = "\n".join(f"  {name:<11} {base}{path}" for name, path in pages.items())
        self.stdout.write(self.style.SUCCESS(f"\nESP platform running:\n{links}\nCtrl-C stops everything.\n"))

        def stop(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            while running:
                for key, _ in selector.select(timeout=1):
                    label, prefix, child = key.data
                    line = child.stdout.readline()
                    if line:
                        sys.stdout.write(prefix + line.decode(errors="replace"))
                        sys.stdout.flush()
                        continue
                    selector.unregister(child.stdout)
                    running.pop(label, None)
                    code = child.wait()
                    self.stderr.write(f"{label} exited with status {code}; stopping the platform.")
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        finally:
            for child in running.values():
                child.terminate()
            for child in running.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
