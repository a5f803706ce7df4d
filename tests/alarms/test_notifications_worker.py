"""The notification wiring with a real Celery worker: a ``celery -A config worker`` process, the real broker
(Redis, the test run's own database of it), the test database, a local SMTP server and webhook receiver.

What the eager tests cannot show: the tasks are registered under the names the hook and the beat schedule
use, their arguments survive the broker, a failed attempt's retry comes back through the broker after its
countdown, and the raise itself delivers nothing — the worker does, after it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import connection

from alarms.lifecycle import Outcome
from alarms.models import NotificationDelivery
from config.celery import app as celery_app
from tests.alarms.conftest import add_receiver, raise_gas_lock, subscribe
from tests.factories import UserFactory, WellFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
# Upper bounds on waiting for the worker (start-up included, on a loaded machine); never timing assumptions.
DEADLINE_SECONDS = 90
STOP_SECONDS = 30


def test_database_url():
    """The test database, as DATABASE_URL for another process."""
    db = connection.settings_dict
    password = f":{urllib.parse.quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@contextlib.contextmanager
def celery_worker(**environment):
    """A worker process of the platform's Celery app; yields a function returning its output so far."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO",
               "--without-heartbeat", "--without-mingle", "--without-gossip",
               "--hostname", f"notifications-test-{os.getpid()}@%h"]  # fmt: skip
    with tempfile.TemporaryFile() as output:
        worker = subprocess.Popen(
            command, cwd=PROJECT, env={**os.environ, **environment}, stdout=output, stderr=subprocess.STDOUT
        )

        def worker_output():
            output.seek(0)
            return output.read().decode(errors="replace")[-5000:]

        try:
            yield worker_output
        finally:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task in hand
            try:
                worker.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(STOP_SECONDS)


def wait_until(condition, describe):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, describe()
        time.sleep(0.1)  # polling a condition with a deadline, not waiting for time to pass


def test_a_worker_delivers_what_a_raise_committed_and_retries_through_the_broker(smtp_server, webhook_receiver):
    well = WellFactory(well_id="WELL-001")
    subscribe(UserFactory(username="omar_operator", role="operator"))
    add_receiver(webhook_receiver.url)
    webhook_receiver.fail_next("500")  # the first POST fails: the retry must come back through the broker
    celery_app.control.purge()  # this run's broker database holds nothing from earlier runs

    assert raise_gas_lock(well).outcome == Outcome.RAISED  # commits; the hook enqueues on the broker
    deliveries = NotificationDelivery.objects.order_by("channel")
    planned = [(d.channel, d.status, d.attempts) for d in deliveries]
    assert planned == [("email", "pending", 0), ("webhook", "pending", 0)]
    assert smtp_server.messages == [] and webhook_receiver.requests == []

    with celery_worker(
        DATABASE_URL=test_database_url(),
        DB_CONN_MAX_AGE="0",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=smtp_server.host,
        EMAIL_PORT=str(smtp_server.port),
        ALARM_NOTIFY_RETRY_SECONDS="1",
        ALARM_WEBHOOK_TIMEOUT_SECONDS="5",
    ) as worker_output:
        wait_until(
            lambda: set(deliveries.values_list("status", flat=True)) == {"sent"},
            lambda: (
                f"not delivered: {list(deliveries.values('channel', 'status', 'attempts', 'last_error'))}\n"
                f"worker:\n{worker_output()}"
            ),
        )

    assert smtp_server.received() == [("omar_operator@example.com", "[ESP critical] WELL-001 gas lock raised")]
    assert [request["answer"] for request in webhook_receiver.requests] == ["500", "200"]
    assert all(request["verified"] for request in webhook_receiver.requests)
    assert [(d.channel, d.attempts) for d in deliveries.all()] == [("email", 1), ("webhook", 2)]
