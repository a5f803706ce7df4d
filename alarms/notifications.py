"""Alarm notifications: e-mail to the people who asked for it and signed webhooks to the systems admins
configured, once per notifying transition, sent by Celery workers — never on the path that raised the
alarm, so a dead SMTP server, receiver or broker never holds up ingestion or diagnostics.

From an event to notifications
------------------------------
1. ``Alarm.record`` writes the ``AlarmEvent``; when ``event.notify`` is true (``Alarm.notifies``: raised,
   severity raised, escalated, the first return to normal; nothing while shelved, nothing for operators'
   own actions or chatter) ``plan_deliveries`` writes, in the same transaction, one
   ``NotificationDelivery`` per recipient: each user whose ``NotificationPreference`` wants it (e-mail on,
   the kind chosen, the severity at or above their minimum, an address, active, with a role), the
   addresses in an escalation's ``details["receivers"]``, and each active ``WebhookReceiver`` whose
   severity, kinds, field and wells match. One row per address and per receiver: a transition is
   notified once, and a rolled-back transition not at all.
2. Once committed, ``alarm_event_committed`` enqueues one task for the event, which enqueues one
   delivery task per pending delivery. Enqueuing never raises: with the broker down or frozen it logs,
   and the rows stay pending.
3. ``sweep`` (beat, every minute) enqueues the deliveries left pending or due for a retry more than a
   minute ago, and those whose sender vanished mid-attempt, so nothing planned is lost.

A delivery's states
-------------------
::

    pending ──claim──▶ sending ──accepted (2xx, or the SMTP server took it)──▶ sent
                          │
                          │ refused, timed out, non-2xx, SMTP error
                          ├── attempts < ALARM_NOTIFY_MAX_ATTEMPTS ──▶ failed ──(next_attempt_at)── claim ─┐
                          │                                                                              │
                          └── attempts = ALARM_NOTIFY_MAX_ATTEMPTS, or receiver deleted/deactivated ──▶ gave_up
                                                                              sending ◀─────────────────┘

- claim: one conditional UPDATE (due, not finished, attempts left) that moves the row to ``sending``,
  counts the attempt and takes a lease of ``SENDING_LEASE``. Two workers handed the same delivery (a
  redelivered task, the sweeper and a retry) cannot both claim it: the one that loses does nothing.
- The outcome is written only by the claimant (``status = sending`` and its attempt number).
- A worker that dies mid-send leaves ``sending``; after the lease the delivery is claimable again. That is
  the one case where a receiver may get a delivery twice: webhooks carry ``X-ESP-Delivery`` (and mails
  the same header) to let it tell.
- Retry n waits ALARM_NOTIFY_RETRY_SECONDS × 2^(n-1), at most ``RETRY_MAX_DELAY``, less a random part
  of up to half (``retry_delay``).

Every function that depends on time takes ``now`` from its caller (the task's wall clock, a test's).
"""

import dataclasses
import datetime
import http.client
import json
import logging
import random
import smtplib
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import KombuError

from accounts.roles import ROLE_NAMES
from alarms import webhooks
from alarms.models import (
    ALARM_SEVERITIES,
    SEVERITY_RANK,
    AlarmEventKind,
    AlarmState,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
    WebhookReceiver,
    alarm_type_label,
)

logger = logging.getLogger(__name__)

# How long a claimed delivery is its sender's: more than any one attempt takes (the webhook and SMTP
# timeouts bound each network step), after which another worker may take over a sender that died.
SENDING_LEASE = datetime.timedelta(minutes=5)
# The sweeper leaves a due delivery alone this long: the enqueue after the commit, or the retry a worker
# scheduled, normally takes it first.
SWEEP_AFTER = datetime.timedelta(minutes=1)
SWEEP_BATCH = 500
RETRY_MAX_DELAY = datetime.timedelta(hours=1)
# Talking to the broker from a request or a diagnostics run: a refused or frozen Redis must cost it at
# most about a second, and once it failed, nothing more for a while (the sweeper catches up).
BROKER_TIMEOUT_SECONDS = 1.0
BROKER_QUIET_SECONDS = 10.0
LAST_ERROR_MAX_LENGTH = 1000

# What the subject line says happened, per event kind.
SUBJECT_PHRASES = {
    AlarmEventKind.RAISED: "raised",
    AlarmEventKind.SEVERITY_RAISED: "worsened to {severity}",
    AlarmEventKind.ESCALATED: "escalated: unacknowledged for {after_minutes} min",
    AlarmEventKind.RETURNED_TO_NORMAL: "returned to normal",
}


class DeliveryFailed(Exception):
    """An attempt that did not deliver; ``permanent`` when retrying cannot help (receiver deleted)."""

    def __init__(self, message, *, code=None, permanent=False):
        super().__init__(message)
        self.message, self.code, self.permanent = message, code, permanent


@dataclasses.dataclass(frozen=True)
class Attempt:
    """What ``deliver`` did: ``status`` is the delivery's afterwards, or ``None`` when it attempted nothing
    (not due, already finished, or another worker has it); ``retry_at`` when a retry is due."""

    status: str | None
    retry_at: datetime.datetime | None = None


# --- Planning (in the transaction of the event) --------------------------------------------------


def severities_up_to(severity):
    """The minimum severities an event of ``severity`` satisfies."""
    return [s for s in ALARM_SEVERITIES if SEVERITY_RANK[s] <= SEVERITY_RANK[severity]]


def _iso(moment):
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if moment else None


def alarm_link(alarm_id):
    """Where people open the alarm: its page in the admin, absolute when ALARM_LINK_BASE_URL is set."""
    return settings.ALARM_LINK_BASE_URL + reverse("admin:alarms_alarm_change", args=[alarm_id])


def notification_payload(event):
    """What a notification of ``event`` says, as JSON-ready data: the event (kind, from → to state, when,
    severity), the alarm (well, type, state it led to, confidence, recommended action), the evidence of
    the newest finding and a link. The webhook body is this plus ``delivery_id``; the e-mail says the same."""
    alarm = event.alarm
    well = alarm.well
    details = {key: value for key, value in event.details.items() if key not in ("evidence", "receivers")}
    return {
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "at": _iso(event.at),
            "from_state": event.from_state,
            "to_state": event.to_state,
            "severity": event.severity,
            "details": details,
        },
        "alarm": {
            "id": alarm.pk,
            "well_id": well.well_id,
            "well_name": well.name,
            "field": well.field,
            "type": alarm.alarm_type,
            "type_label": alarm.alarm_type_label,
            "severity": alarm.peak_severity,
            "state": event.to_state,
            "raised_at": _iso(alarm.raised_at),
            "confidence": alarm.confidence,
            "recommended_action": alarm.recommended_action,
        },
        "evidence": alarm.evidence,
        "link": reverse("admin:alarms_alarm_change", args=[alarm.pk]),
    }


def plan_deliveries(event):
    """Writes the deliveries of notifying ``event`` in the caller's transaction (``Alarm.record``); returns
    them. Costs three queries: the users who want it, the receivers that want it, one insert."""
    well = event.alarm.well
    up_to = severities_up_to(event.severity)
    payload = notification_payload(event)
    deliveries = {}  # recipient address (lower case) or receiver id → delivery
    users = (
        get_user_model()
        .objects.filter(
            is_active=True,
            alarm_notification_preference__email=True,
            alarm_notification_preference__min_severity__in=up_to,
            alarm_notification_preference__kinds__contains=[event.kind],
        )
        .exclude(email="")
        .filter(Q(is_superuser=True) | Q(groups__name__in=ROLE_NAMES))
        .distinct()
        .order_by("pk")
    )
    for user in users:
        deliveries.setdefault(
            user.email.lower(),
            NotificationDelivery(channel=NotificationChannel.EMAIL, recipient=user.email, user=user),
        )
    if event.kind == AlarmEventKind.ESCALATED:
        for address in event.details.get("receivers", []):
            deliveries.setdefault(
                address.lower(), NotificationDelivery(channel=NotificationChannel.EMAIL, recipient=address)
            )
    receivers = (
        WebhookReceiver.objects.filter(active=True, min_severity__in=up_to, kinds__contains=[event.kind])
        .filter(Q(field="") | Q(field=well.field))
        .filter(Q(wells__isnull=True) | Q(wells=well))
        .distinct()
        .order_by("pk")
    )
    for receiver in receivers:
        deliveries[receiver.pk] = NotificationDelivery(
            channel=NotificationChannel.WEBHOOK, recipient=receiver.name, webhook=receiver
        )
    written = timezone.now()  # the wall clock, not the event's: the sweeper measures delays from it
    for delivery in deliveries.values():
        delivery.event, delivery.payload = event, payload
        delivery.created_at = delivery.next_attempt_at = written
    return NotificationDelivery.objects.bulk_create(deliveries.values()) if deliveries else []


# --- Handing work to Celery (never raises) --------------------------------------------------------


class _BrokerGate:
    """Remembers, per process, that the broker just failed, so that a burst of events does not wait for
    it once each. Pending deliveries are the sweeper's meanwhile."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._closed_until = 0.0
        self._lock = threading.Lock()

    def is_open(self):
        return self.clock() >= self._closed_until

    def close(self):
        with self._lock:
            self._closed_until = self.clock() + BROKER_QUIET_SECONDS

    def reset(self):
        with self._lock:
            self._closed_until = 0.0


broker_gate = _BrokerGate()


def enqueue(task, calls, *, countdown=None):
    """Sends ``task`` once per argument tuple in ``calls``, over one broker connection with short
    timeouts. Returns how many the broker took; never raises for the broker's sake: a refused or frozen
    broker is logged and leaves the rest to the sweeper."""
    calls = list(calls)
    if not calls:
        return 0
    if not broker_gate.is_open():
        logger.info(
            "Broker failed less than %ss ago: %d %s task(s) left to the sweeper",
            BROKER_QUIET_SECONDS,
            len(calls),
            task.name,
        )
        return 0
    sent = 0
    # No reconnection attempts (kombu would sleep between them), short socket timeouts (a frozen Redis).
    options = {
        "max_retries": 0,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    }
    try:
        with task.app.connection_for_write(transport_options=options, connect_timeout=BROKER_TIMEOUT_SECONDS) as link:
            for args in calls:
                task.apply_async(args, connection=link, retry=False, countdown=countdown)
                sent += 1
    except (KombuError, OSError) as error:
        broker_gate.close()
        logger.warning(
            "Could not enqueue %d of %d %s task(s) (%s: %s); the sweeper will send their deliveries",
            len(calls) - sent,
            len(calls),
            task.name,
            type(error).__name__,
            error,
        )
    return sent


def alarm_event_committed(event_id):
    """Called after the transaction that wrote AlarmEvent ``event_id`` has committed (``Alarm.record``),
    in the request or worker that made the change: enqueues the event's notifications, if it has any.
    One query; never waits on a receiver, and on the broker for at most BROKER_TIMEOUT_SECONDS."""
    if NotificationDelivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING).exists():
        from alarms.tasks import dispatch_notifications_task

        enqueue(dispatch_notifications_task, [(event_id,)])


def dispatch_event(event_id):
    """The event task: one delivery task per pending delivery of the event. Returns how many were sent."""
    from alarms.tasks import deliver_notification_task

    pending = NotificationDelivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING)
    return enqueue(deliver_notification_task, [(pk,) for pk in pending.order_by("pk").values_list("pk", flat=True)])


def sweep(*, now):
    """The beat task's work: gives up deliveries that have no attempts left (their sender died on the last
    one, or the setting was lowered), then enqueues those due for more than SWEEP_AFTER and those whose
    sender's lease expired, oldest first, at most SWEEP_BATCH. Returns how many it enqueued."""
    from alarms.tasks import deliver_notification_task

    max_attempts = settings.ALARM_NOTIFY_MAX_ATTEMPTS
    abandoned = Q(status=DeliveryStatus.SENDING, lease_expires_at__lte=now) | Q(status=DeliveryStatus.FAILED)
    exhausted = NotificationDelivery.objects.filter(abandoned, attempts__gte=max_attempts)
    for delivery in exhausted.only("pk", "status", "attempts", "recipient"):
        if delivery.status == DeliveryStatus.SENDING:
            error = "The sender was lost during the last attempt."
        else:
            error = "No attempts left (ALARM_NOTIFY_MAX_ATTEMPTS)."
        if _give_up(delivery, error, expected_status=delivery.status):
            logger.warning("Gave up delivery %s to %s: %s", delivery.pk, delivery.recipient, error)
    due = NotificationDelivery.objects.filter(
        Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now - SWEEP_AFTER)
        | Q(status=DeliveryStatus.SENDING, lease_expires_at__lte=now),
        attempts__lt=max_attempts,
    )
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH])
    return enqueue(deliver_notification_task, [(pk,) for pk in ids])


def _give_up(delivery, error, *, expected_status):
    return NotificationDelivery.objects.filter(
        pk=delivery.pk, status=expected_status, attempts=delivery.attempts
    ).update(status=DeliveryStatus.GAVE_UP, lease_expires_at=None, last_error=error)


# --- Delivering ----------------------------------------------------------------------------------


def retry_delay(attempts, *, base_seconds, rand=random.random):
    """How long to wait after ``attempts`` failed attempts: base × 2^(attempts-1), at most RETRY_MAX_DELAY,
    less up to half of it at random (``rand()`` in [0, 1)) so that retries to a receiver that failed for
    many deliveries at once are spread out."""
    full = min(base_seconds * 2 ** (attempts - 1), RETRY_MAX_DELAY.total_seconds())
    return datetime.timedelta(seconds=full * (1 - rand() / 2))


def _claim(delivery_id, now):
    """Takes the delivery for one attempt if it is due, unfinished and has attempts left; True if taken."""
    due = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, lease_expires_at__lte=now
    )
    return NotificationDelivery.objects.filter(
        due, pk=delivery_id, attempts__lt=settings.ALARM_NOTIFY_MAX_ATTEMPTS
    ).update(
        status=DeliveryStatus.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        lease_expires_at=now + SENDING_LEASE,
    )


def deliver(delivery_id, *, now, rand=random.random):
    """One attempt at delivery ``delivery_id`` at ``now``, if it is due and no other worker has it: sends
    the e-mail or the webhook and records the outcome (sent; failed with the next attempt's time; or gave
    up). Returns an ``Attempt``. Never raises for the receiver's sake."""
    if not _claim(delivery_id, now):
        return Attempt(None)
    delivery = NotificationDelivery.objects.select_related("webhook").get(pk=delivery_id)
    mine = NotificationDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts
    )
    try:
        code = _send(delivery)
    except DeliveryFailed as failure:
        error = failure.message[:LAST_ERROR_MAX_LENGTH]
        if failure.permanent or delivery.attempts >= settings.ALARM_NOTIFY_MAX_ATTEMPTS:
            mine.update(
                status=DeliveryStatus.GAVE_UP, lease_expires_at=None, last_error=error, response_code=failure.code
            )
            logger.warning(
                "Gave up delivery %s to %s after %d attempt(s): %s",
                delivery.pk,
                delivery.recipient,
                delivery.attempts,
                error,
            )
            return Attempt(DeliveryStatus.GAVE_UP)
        retry_at = now + retry_delay(delivery.attempts, base_seconds=settings.ALARM_NOTIFY_RETRY_SECONDS, rand=rand)
        mine.update(
            status=DeliveryStatus.FAILED,
            lease_expires_at=None,
            next_attempt_at=retry_at,
            last_error=error,
            response_code=failure.code,
        )
        logger.info(
            "Delivery %s to %s failed (attempt %d), retry at %s: %s",
            delivery.pk,
            delivery.recipient,
            delivery.attempts,
            retry_at.isoformat(),
            error,
        )
        return Attempt(DeliveryStatus.FAILED, retry_at)
    mine.update(status=DeliveryStatus.SENT, sent_at=now, lease_expires_at=None, last_error="", response_code=code)
    return Attempt(DeliveryStatus.SENT)


def _send(delivery):
    if delivery.channel == NotificationChannel.EMAIL:
        return send_email(delivery)
    return send_webhook(delivery)


def email_subject(payload):
    """``[ESP critical] WELL-001 broken shaft raised``."""
    event, alarm = payload["event"], payload["alarm"]
    phrase = SUBJECT_PHRASES.get(event["kind"], event["kind"].replace("_", " "))
    phrase = phrase.format(severity=event["severity"], after_minutes=event["details"].get("after_minutes", "?"))
    return f"[ESP {event['severity']}] {alarm['well_id']} {alarm_type_label(alarm['type']).lower()} {phrase}"


def email_message(delivery):
    """The plain-text e-mail of ``delivery``, with headers naming the delivery and the event kind."""
    payload = delivery.payload
    event, alarm = payload["event"], payload["alarm"]
    body = render_to_string(
        "alarms/notification_email.txt",
        {
            "subject": email_subject(payload),
            "event": event,
            "alarm": alarm,
            "at": f"{datetime.datetime.fromisoformat(event['at']):%Y-%m-%d %H:%M}",
            "what": AlarmEventKind(event["kind"]).label,
            "from_state": AlarmState(event["from_state"]).label if event["from_state"] else "",
            "to_state": AlarmState(event["to_state"]).label,
            "evidence": sorted(payload["evidence"].items()),
            "link": alarm_link(alarm["id"]),
            "by_preference": delivery.user_id is not None,
            "delivery_id": delivery.pk,
        },
    )
    return EmailMessage(
        subject=email_subject(payload),
        body=body,
        to=[delivery.recipient],
        headers={webhooks.DELIVERY_HEADER: str(delivery.pk), webhooks.EVENT_HEADER: event["kind"]},
    )


def send_email(delivery):
    """Hands the e-mail to the SMTP server (EMAIL_* settings; EMAIL_TIMEOUT per step). Returns 250."""
    try:
        sent = email_message(delivery).send()
    except smtplib.SMTPResponseException as error:
        raise DeliveryFailed(f"SMTP {error.smtp_code}: {_text(error.smtp_error)}", code=error.smtp_code) from None
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        raise DeliveryFailed(f"SMTP {code}: {_text(reply)}", code=code) from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
    if not sent:
        raise DeliveryFailed("The e-mail backend sent nothing.")
    return 250


def _text(reply):
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def webhook_body(delivery):
    return json.dumps({"delivery_id": delivery.pk, **delivery.payload}, separators=(",", ":")).encode()


def send_webhook(delivery):
    """POSTs the signed payload to the delivery's receiver. Returns the HTTP status of a 2xx answer."""
    receiver = delivery.webhook
    if receiver is None:
        raise DeliveryFailed("The webhook receiver was deleted.", permanent=True)
    if not receiver.active:
        raise DeliveryFailed("The webhook receiver is inactive.", permanent=True)
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))  # the receiver checks it against its own clock
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"esp-platform/{settings.VERSION}",
        webhooks.EVENT_HEADER: delivery.payload["event"]["kind"],
        webhooks.DELIVERY_HEADER: str(delivery.pk),
        webhooks.TIMESTAMP_HEADER: timestamp,
        webhooks.SIGNATURE_HEADER: webhooks.signature(receiver.secret, timestamp, body),
    }
    try:
        status, answer = webhooks.post(receiver.url, body, headers, timeout=settings.ALARM_WEBHOOK_TIMEOUT_SECONDS)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error or 'no answer'}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}: {answer}".strip(), code=status)
    return status
