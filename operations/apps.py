"""Health checks, metrics and backups of the platform itself."""

import atexit
import os

from django.apps import AppConfig


def _drop_live_gauges():
    """At a normal exit, remove this process's live gauges from the shared metrics files (a process
    that is killed leaves them; gunicorn's child_exit and Celery's pool-shutdown signal cover those)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), directory)


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"
    # Django admin rights of the roles (accounts.admin_access): nothing here is edited by hand, and the
    # backups (file paths, manifests, restore results) are the admins' alone, as in the API.
    operator_editable_models = []
    admin_only_models = ["backup"]
    # A backup someone starts or deletes (API, admin) is in the change audit trail (accounts.changes); the
    # scheduled ones are recorded by their own rows.
    audited_models_changed_by_people = ["backup"]

    def ready(self):
        # prometheus_client writes its multiprocess files into this folder and fails if it is missing.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

        from prometheus_client import disable_created_metrics

        from operations import workers

        workers.connect()
        atexit.register(_drop_live_gauges)
        # No *_created series: multiprocess mode has none, and single-process /metrics should match it.
        disable_created_metrics()
