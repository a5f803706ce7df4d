"""`make run` (manage.py runplatform): refuses a taken port up front, and says "running" only once the
web server answers /health."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from operations.management.commands import runplatform

PROJECT = Path(__file__).resolve().parents[2]

# Stand-ins for gunicorn, run as real processes: one that answers /health, one that exits at once, one
# that starts but never listens.
SERVES_HEALTH = """
import http.server, sys

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "healthy"}')

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health)
print("listening", flush=True)
server.serve_forever()
"""
CRASHES = "import sys; print('cannot import config.wsgi', flush=True); sys.exit(3)"
NEVER_LISTENS = "import signal; print('starting', flush=True); signal.pause()"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def fake_web(monkeypatch):
    """Makes runplatform start only ``script`` as its web server, on ``port``."""

    def _fake_web(script):
        monkeypatch.setattr(
            runplatform,
            "platform_processes",
            lambda port, simulate: [("web", [sys.executable, "-c", script, str(port)])],
        )

    return _fake_web


def test_it_refuses_a_taken_port_at_once_naming_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "runplatform", "--no-simulate"],
            cwd=PROJECT,
            env={**os.environ, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,  # a guard only: it answers as soon as Django has loaded
        )
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
    assert "running" not in result.stdout
    assert " | " not in result.stdout  # no process of the platform was started


def test_it_refuses_a_port_variable_that_is_not_a_port(monkeypatch):
    monkeypatch.setenv("PORT", "80a")
    with pytest.raises(CommandError, match="PORT must be a port number"):
        call_command("runplatform", "--no-simulate")


def test_it_says_running_once_the_web_server_answers_and_stops_cleanly_on_sigterm(fake_web, capsys, monkeypatch):
    fake_web(SERVES_HEALTH)
    announce = runplatform.Command.announce

    def announce_then_get_stopped(self, *args):
        announce(self, *args)
        os.kill(os.getpid(), signal.SIGTERM)  # as a process supervisor stopping the platform

    monkeypatch.setattr(runplatform.Command, "announce", announce_then_get_stopped)
    handler_before = signal.getsignal(signal.SIGTERM)
    port = free_port()
    call_command("runplatform", "--no-simulate", port=port)  # returns: being stopped is no failure
    assert f"Admin       http://127.0.0.1:{port}/admin/" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is handler_before
    runplatform.check_port_free("127.0.0.1", port)  # the web server was stopped with the platform


def test_it_stops_without_saying_running_when_the_web_server_dies(fake_web, capsys):
    fake_web(CRASHES)
    with pytest.raises(CommandError, match="web exited with status 3; the platform has stopped"):
        call_command("runplatform", "--no-simulate", port=free_port())
    output = capsys.readouterr().out
    assert "cannot import config.wsgi" in output
    assert "running" not in output


def test_it_gives_up_when_the_web_server_never_answers(fake_web, capsys, monkeypatch):
    monkeypatch.setattr(runplatform, "READY_DEADLINE_SECONDS", 0.5)
    fake_web(NEVER_LISTENS)
    port = free_port()
    with pytest.raises(CommandError, match=f"did not answer http://127.0.0.1:{port}/health within 0.5 s"):
        call_command("runplatform", "--no-simulate", port=port)
    assert "running" not in capsys.readouterr().out
