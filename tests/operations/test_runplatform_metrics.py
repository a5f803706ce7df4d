"""`make run` gives every process of the platform its own metrics folder under METRICS_DIR, emptied before
anything starts, and runs gunicorn with config/gunicorn.py (multiprocess metrics, dead workers marked)."""

import json
import os
import signal
import sys

from django.core.management import call_command

from operations.management.commands import runplatform
from tests.operations.test_runplatform import SERVES_HEALTH, free_port

# The stand-in web server first writes down the environment it was given.
TELLS_ITS_ENVIRONMENT = (
    "import json, os, sys\n"
    "names = ('METRICS_DIR', 'PROMETHEUS_MULTIPROC_DIR')\n"
    "open(sys.argv[2], 'w').write(json.dumps({name: os.environ.get(name) for name in names}))\n" + SERVES_HEALTH
)


def test_the_web_server_runs_with_the_gunicorn_config():
    (label, argv), *_ = runplatform.platform_processes(8000, simulate=False)
    assert label == "web"
    assert argv[argv.index("-c") + 1] == "config/gunicorn.py"


def test_each_process_gets_its_own_emptied_metrics_folder(tmp_path, settings, monkeypatch):
    settings.METRICS_DIR = str(tmp_path / "metrics")
    stale = tmp_path / "metrics" / "web" / "counter_4242.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"counts of an earlier run")
    told = tmp_path / "environment.json"
    monkeypatch.setattr(
        runplatform,
        "platform_processes",
        lambda port, simulate: [("web", [sys.executable, "-c", TELLS_ITS_ENVIRONMENT, str(port), str(told)])],
    )
    announce = runplatform.Command.announce

    def announce_then_get_stopped(self, *args):
        announce(self, *args)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(runplatform.Command, "announce", announce_then_get_stopped)
    call_command("runplatform", "--no-simulate", port=free_port())
    assert json.loads(told.read_text()) == {
        "METRICS_DIR": str(tmp_path / "metrics"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics" / "web"),
    }
    assert not stale.exists()
    assert (tmp_path / "metrics" / "web").is_dir()  # kept: it is METRICS_DIR's, not a temporary one
