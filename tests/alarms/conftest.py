"""What the alarm tests share: a fixed clock, hand-made findings, and diagnostics runs sent as the engine
sends them (the ``diagnostics_ran`` signal), so no test waits for the engine or for time to pass; for the
notification tests, a real SMTP server and webhook receiver (tests/alarms/receivers.py)."""

import contextlib
import datetime

import pytest

from alarms import lifecycle, notifications
from alarms.models import NotificationPreference, WebhookReceiver
from analytics.diagnostics.findings import Finding
from analytics.diagnostics.signals import diagnostics_ran
from analytics.models import DiagnosticType
from tests.alarms.receivers import SmtpServer
from tests.alarms.receivers import WebhookReceiver as WebhookServer

# Every test's "now" unless it says otherwise: a Saturday morning in the field.
T0 = datetime.datetime(2026, 11, 28, 8, 0, tzinfo=datetime.UTC)


def minutes(n):
    return datetime.timedelta(minutes=n)


def finding(diagnostic_type=DiagnosticType.GAS_LOCK, severity="critical", *, at=T0, **evidence):
    """A finding as the engine makes it: over the 2 hours up to ``at``, detected at ``at``."""
    return Finding(
        diagnostic_type=str(diagnostic_type),
        severity=severity,
        confidence=0.9,
        evidence=evidence or {"current_a": 21.4, "flow_bpd": 12.0},
        recommended_action="Cycle the pump to vent the gas.",
        window_start=at - datetime.timedelta(hours=2),
        window_end=at,
        detected_at=at,
    )


def run_diagnostics(well, at, findings=(), evaluated=None):
    """Sends ``diagnostics_ran`` as the engine does after a run of ``well`` at ``at``. ``evaluated``
    defaults to every type: a type without a finding is then judged absent."""
    diagnostics_ran.send(
        sender=lifecycle,
        well=well,
        ran_at=at,
        findings=list(findings),
        evaluated=frozenset(DiagnosticType.values if evaluated is None else evaluated),
    )


def raise_gas_lock(well, at=T0, severity="critical", **kwargs):
    return lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, severity, at=at, **kwargs)


@pytest.fixture
def alarm_settings(settings):
    """The alarm timings every test reasons with, whatever the environment says."""
    settings.ALARM_CLEAR_AFTER_MINUTES = 15
    settings.ALARM_REALARM_HOLDOFF_MINUTES = 60
    settings.ALARM_ESCALATE_AFTER_MINUTES = 15
    settings.ALARM_SHELVE_MAX_HOURS = 72
    settings.ALARM_ESCALATION_RECEIVERS = ["control-room@example.com"]
    return settings


@pytest.fixture(autouse=True)
def _alarm_settings(alarm_settings):
    return alarm_settings


# --- Notifications ---------------------------------------------------------------------------------

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _broker_gate_open():
    """Each test starts as if the broker had never failed in this process."""
    notifications.broker_gate.reset()
    yield
    notifications.broker_gate.reset()


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhook_receiver():
    receiver = WebhookServer(WEBHOOK_SECRET).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def notify_settings(settings, smtp_server):
    """Mail to the local SMTP server, Celery tasks run in the test's process (eagerly), short timeouts."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "esp-alarms@example.com"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    settings.ALARM_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.ALARM_NOTIFY_MAX_ATTEMPTS = 4
    settings.ALARM_NOTIFY_RETRY_SECONDS = 30
    settings.ALARM_LINK_BASE_URL = "https://esp.example.com"
    return settings


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): …`` runs what the block's transactions left for after their commit (the
    notifications hook) at the end of the block, as a real commit would."""

    @contextlib.contextmanager
    def _committed():
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return _committed


def subscribe(user, address=None, **preference):
    """Gives ``user`` an e-mail address and saved alarm notification preferences (e-mail on by default)."""
    user.email = address or f"{user.username}@example.com"
    user.save(update_fields=["email"])
    return NotificationPreference.objects.create(user=user, **{"email": True, **preference})


def add_receiver(url, **fields):
    """A webhook receiver signing with WEBHOOK_SECRET; ``wells`` may list wells to limit it to."""
    wells = fields.pop("wells", [])
    name = fields.pop("name", "SCADA gateway")
    receiver = WebhookReceiver.objects.create(name=name, url=url, secret=WEBHOOK_SECRET, **fields)
    receiver.wells.set(wells)
    return receiver
