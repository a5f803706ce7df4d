"""gunicorn settings of the web server: Prometheus metrics correct across its worker processes.

    gunicorn -c config/gunicorn.py config.wsgi --bind … --workers 2 --threads 4

Each worker is a process of its own, so prometheus_client runs in multiprocess mode: every worker writes
its counts to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up, whichever worker
answers the scrape. That directory is

- ``PROMETHEUS_MULTIPROC_DIR`` when set (``manage.py runplatform`` sets it), else
- ``$METRICS_DIR/web`` when ``METRICS_DIR`` is set (compose), else
- a new temporary directory, removed when gunicorn stops.

It is set here, in the master, before any worker imports prometheus_client (which reads it once, at
import), emptied when gunicorn starts (files of an earlier run would add old counts to new ones), and a
worker that exits or is killed has its live gauges dropped (``child_exit``); its counters stay, as they
should: a counter does not go down because the process that counted died.
"""

import os
import shutil
import tempfile

_created = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    if os.environ.get("METRICS_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(os.environ["METRICS_DIR"], "web")
    else:
        _created = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="esp-metrics-web-")
metrics_directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    from operations.workers import empty_metrics_directory

    empty_metrics_directory(metrics_directory)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_directory)


def on_exit(server):
    if _created:
        shutil.rmtree(_created, ignore_errors=True)
