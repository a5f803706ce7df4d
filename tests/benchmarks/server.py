"""A real HTTP server for benchmarks: gunicorn on a free loopback port, same environment."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parents[2]


def free_port():
    """A free loopback port, or BENCH_PORT when set (a machine where each user has its own ports)."""
    if os.environ.get("BENCH_PORT"):
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(workers=2, threads=1, app="config.wsgi", environment=None):
    """Yield (base URL, process) of gunicorn serving ``app`` (the project by default), with ``environment``
    added to this process's; stops it afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", "--graceful-timeout", "2"],
        cwd=PROJECT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(environment or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=20)


def bearer_token(base, username, password):
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]
