"""Alarms on wells, their append-only history, and the wells or alarm types taken out of service.

The state diagram is in the package docstring (``alarms/__init__.py``). Transitions an operator makes
(acknowledge, shelve, unshelve, clear) are methods of ``Alarm``; the ones the platform makes (raise,
return to normal, expiry of a shelve, escalation, out of service) are in ``alarms.lifecycle``. Each
locks the alarm's row, checks the transition is allowed, changes the row and writes its
``AlarmEvent`` — and, for an event that notifies, its ``NotificationDelivery`` rows — in one transaction.

Notifications (``alarms.notifications``): who wants alarm e-mail (``NotificationPreference``), the
systems that receive signed webhooks (``WebhookReceiver``), and the log of every delivery.
"""

import datetime
import secrets
import urllib.parse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from analytics.models import DiagnosticType, Severity
from wells.models import Well

# Only these severities raise alarms; an info finding is worth a look, not an operator's attention.
ALARM_SEVERITIES = [Severity.WARNING.value, Severity.CRITICAL.value]
# What the diagnostics said of the condition, as the admin and the API show it.
ALARM_FINDING_FIELDS = ["confidence", "evidence", "recommended_action"]
# How a notification's delivery went, in the order the admin and the API show it.
DELIVERY_OUTCOME_FIELDS = [
    "status",
    "attempts",
    "response_code",
    "last_error",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
    "sent_at",
]
# The control room's response to an alarm, in the order the admin and the API show it.
ALARM_RESPONSE_FIELDS = [
    "unacknowledged_since",
    "acknowledged_at",
    "acknowledged_by",
    "escalated_at",
    "shelved_until",
    "shelved_by",
    "shelve_reason",
    "closed_at",
    "close_reason",
]
SEVERITY_RANK = {Severity.INFO.value: 0, Severity.WARNING.value: 1, Severity.CRITICAL.value: 2}
COMMENT_MAX_LENGTH = 2000


def alarm_type_label(value):
    """The readable name of a DiagnosticType value ("" for blank, the value itself for one unknown)."""
    return DiagnosticType(value).label if value in DiagnosticType.values else value


class AlarmState(models.TextChoices):
    """ISA-18.2 states of an alarm (Active × Acknowledged), the Shelved overlay, and Closed."""

    ACTIVE_UNACKNOWLEDGED = "active_unacknowledged", "Active, unacknowledged"
    ACTIVE_ACKNOWLEDGED = "active_acknowledged", "Active, acknowledged"
    RETURNED_UNACKNOWLEDGED = "returned_unacknowledged", "Returned to normal, unacknowledged"
    SHELVED = "shelved", "Shelved"
    CLOSED = "closed", "Closed"


OPEN_STATES = [state for state in AlarmState.values if state != AlarmState.CLOSED]


class CloseReason(models.TextChoices):
    NORMAL = "normal", "Acknowledged and returned to normal"
    CLEARED = "cleared", "Cleared by an operator"
    OUT_OF_SERVICE = "out_of_service", "Taken out of service"


class AlarmEventKind(models.TextChoices):
    RAISED = "raised", "Raised"
    SEVERITY_RAISED = "severity_raised", "Severity raised"
    REACTIVATED = "reactivated", "Re-activated"
    RETURNED_TO_NORMAL = "returned_to_normal", "Returned to normal"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SHELVED = "shelved", "Shelved"
    UNSHELVED = "unshelved", "Unshelved"
    CLEARED = "cleared", "Cleared"
    ESCALATED = "escalated", "Escalated"
    OUT_OF_SERVICE = "out_of_service", "Taken out of service"


# What the state column is computed from. An open alarm is never both acknowledged and returned to
# normal (it closes), which the alarm_open_not_acknowledged_and_returned constraint holds the rows to.
STATE_EXPRESSION = Case(
    When(closed_at__isnull=False, then=Value(AlarmState.CLOSED.value)),
    When(shelved_until__isnull=False, then=Value(AlarmState.SHELVED.value)),
    When(active=True, acknowledged=False, then=Value(AlarmState.ACTIVE_UNACKNOWLEDGED.value)),
    When(active=True, acknowledged=True, then=Value(AlarmState.ACTIVE_ACKNOWLEDGED.value)),
    default=Value(AlarmState.RETURNED_UNACKNOWLEDGED.value),
)


class AlarmTransitionRefused(Exception):
    """A transition that the alarm's state or the request does not allow; ``field`` is what to blame."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


class AlarmQuerySet(models.QuerySet):
    def open(self):
        """Alarms not yet closed (shelved ones included)."""
        return self.filter(closed_at__isnull=True)

    def needing_action(self):
        """Open alarms an operator must answer: unacknowledged and not shelved."""
        return self.open().filter(acknowledged=False, shelved_until__isnull=True)


class Alarm(models.Model):
    """One episode of one abnormal condition on a well's ESP (a gas lock, a motor running hot…), from the
    diagnostic finding that raised it until an operator has acknowledged it and it has returned to normal.

    Repeats of the condition while it is open count on the same row (``occurrence_count``); its
    priority is the highest severity seen while open (``peak_severity``). ``state`` is computed by the
    database from the flags below, so it can never disagree with them.
    """

    well = models.ForeignKey(Well, on_delete=models.CASCADE, related_name="alarms")
    # A DiagnosticType value. Not a choices field: the types are analytics' to extend, and choices here
    # would make every new type a migration of this app too. The API and admin offer DiagnosticType's.
    alarm_type = models.CharField(max_length=32)
    peak_severity = models.CharField(
        max_length=8, choices=Severity.choices, help_text="Highest severity seen while open: the alarm's priority."
    )
    last_severity = models.CharField(max_length=8, choices=Severity.choices)
    active = models.BooleanField(default=True, help_text="The condition is present (not returned to normal).")
    acknowledged = models.BooleanField(default=False)
    state = models.GeneratedField(
        expression=STATE_EXPRESSION,
        output_field=models.CharField(max_length=32, choices=AlarmState.choices),
        db_persist=True,
        choices=AlarmState.choices,  # for get_state_display() and the admin's filter
    )

    raised_at = models.DateTimeField(help_text="When the first finding raised it.")
    activated_at = models.DateTimeField(help_text="When it last went active (raised or re-activated).")
    last_seen_at = models.DateTimeField(help_text="The newest diagnostics run that found the condition.")
    absent_since = models.DateTimeField(
        null=True, blank=True, help_text="First run, since it was last seen, that judged the condition absent."
    )
    returned_at = models.DateTimeField(null=True, blank=True, help_text="When it returned to normal, if it has.")
    last_window_end = models.DateTimeField(
        null=True, blank=True, help_text="End of the newest finding's window: a replayed finding is not counted twice."
    )
    occurrence_count = models.PositiveIntegerField(default=1, help_text="Findings counted while open.")
    reactivation_count = models.PositiveIntegerField(
        default=0, help_text="Times it came back after returning to normal (chatter)."
    )

    unacknowledged_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current unacknowledged spell: the escalation clock."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    shelved_until = models.DateTimeField(null=True, blank=True)
    shelved_at = models.DateTimeField(null=True, blank=True)
    shelved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    shelve_reason = models.TextField(blank=True)

    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)

    confidence = models.FloatField(null=True, blank=True, help_text="Of the newest finding, 0–1.")
    evidence = models.JSONField(default=dict, blank=True, help_text="The newest finding's figures, units in keys.")
    recommended_action = models.TextField(blank=True)

    objects = AlarmQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-raised_at"], name="alarm_state_raised"),
            models.Index(fields=["well", "-raised_at"], name="alarm_well_raised"),
            models.Index(fields=["shelved_until"], condition=Q(shelved_until__isnull=False), name="alarm_shelved"),
        ]
        constraints = [
            # The dedupe guarantee: two workers raising the same condition at once still give one open row.
            models.UniqueConstraint(
                fields=["well", "alarm_type"], condition=Q(closed_at__isnull=True), name="alarm_one_open_per_well_type"
            ),
            models.CheckConstraint(
                condition=Q(peak_severity__in=ALARM_SEVERITIES), name="alarm_peak_severity_alarming"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=False) | Q(active=True) | Q(acknowledged=False),
                name="alarm_open_not_acknowledged_and_returned",
            ),
            models.CheckConstraint(
                condition=(Q(closed_at__isnull=True) & Q(close_reason=""))
                | (Q(closed_at__isnull=False) & ~Q(close_reason="") & Q(active=False) & Q(shelved_until__isnull=True)),
                name="alarm_closed_with_reason_inactive_unshelved",
            ),
            models.CheckConstraint(
                condition=Q(shelved_until__isnull=True) | ~Q(shelve_reason=""), name="alarm_shelved_with_reason"
            ),
        ]

    def __str__(self):
        return f"{self.alarm_type_label} on {self.well.well_id} ({self.get_state_display()})"

    @property
    def alarm_type_label(self):
        return alarm_type_label(self.alarm_type)

    @property
    def is_open(self):
        return self.closed_at is None

    # --- Operator transitions -------------------------------------------------------------------
    # Each takes the time as ``now`` (the view passes the wall clock, tests their own), locks the row,
    # and refreshes this instance afterwards. They raise AlarmTransitionRefused and change nothing
    # when the alarm's state does not allow them.

    def acknowledge(self, user, *, now, comment=""):
        """The operator has seen the alarm. Closes it if it has already returned to normal."""
        with transaction.atomic():
            alarm = self._locked()
            alarm._refuse_if_closed("acknowledge")
            if alarm.acknowledged:
                who = alarm.acknowledged_by.get_username() if alarm.acknowledged_by else "someone"
                raise AlarmTransitionRefused(
                    "state",
                    f"This alarm is already acknowledged (by {who} at {alarm.acknowledged_at:%Y-%m-%d %H:%M} UTC).",
                )
            alarm._mark_acknowledged(user, now)
            if not alarm.active:
                alarm._close(CloseReason.NORMAL, now)
            event = alarm.record(AlarmEventKind.ACKNOWLEDGED, at=now, actor=user, comment=comment)
        self.refresh_from_db()
        return event

    def shelve(self, user, *, until, reason, now):
        """Hides the alarm from the list of alarms needing action until ``until`` (auto-unshelved then).

        It is still evaluated (repeats, return to normal) but not escalated or notified meanwhile.
        """
        reason = (reason or "").strip()
        if not reason:
            raise AlarmTransitionRefused("reason", "Give the reason for shelving the alarm.")
        if until <= now:
            raise AlarmTransitionRefused("until", "The shelve's expiry must be in the future.")
        hours = settings.ALARM_SHELVE_MAX_HOURS
        if until > now + datetime.timedelta(hours=hours):
            raise AlarmTransitionRefused("until", f"An alarm can be shelved for at most {hours} hours.")
        with transaction.atomic():
            alarm = self._locked()
            alarm._refuse_if_closed("shelve")
            if alarm.shelved_until is not None:
                raise AlarmTransitionRefused(
                    "state",
                    f"This alarm is already shelved until {alarm.shelved_until:%Y-%m-%d %H:%M} UTC; unshelve it first.",
                )
            alarm.shelved_until, alarm.shelved_at, alarm.shelved_by, alarm.shelve_reason = until, now, user, reason
            event = alarm.record(
                AlarmEventKind.SHELVED, at=now, actor=user, comment=reason, details={"until": until.isoformat()}
            )
        self.refresh_from_db()
        return event

    def unshelve(self, user, *, now, comment="", expired=False):
        """Back to the state underneath the shelve. ``user`` is None when the shelve expired."""
        with transaction.atomic():
            alarm = self._locked()
            alarm._refuse_if_closed("unshelve")
            if alarm.shelved_until is None:
                raise AlarmTransitionRefused("state", "This alarm is not shelved.")
            details = {"shelved_until": alarm.shelved_until.isoformat(), "expired": expired}
            alarm._end_shelve()
            event = alarm.record(AlarmEventKind.UNSHELVED, at=now, actor=user, comment=comment, details=details)
        self.refresh_from_db()
        return event

    def clear(self, user, *, now, comment=""):
        """The operator's manual reset: closes the alarm whatever its open state, acknowledging it too.

        If the condition is still there, the next diagnostics run raises a new alarm.
        """
        with transaction.atomic():
            alarm = self._locked()
            alarm._refuse_if_closed("clear")
            if not alarm.acknowledged:
                alarm._mark_acknowledged(user, now)
            if alarm.active:
                alarm.active, alarm.returned_at = False, now
            alarm._close(CloseReason.CLEARED, now)
            event = alarm.record(AlarmEventKind.CLEARED, at=now, actor=user, comment=comment)
        self.refresh_from_db()
        return event

    # --- Building blocks, for the transitions here and in alarms.lifecycle ------------------------

    def _locked(self):
        return type(self).objects.select_for_update(of=("self",)).select_related("well").get(pk=self.pk)

    def _refuse_if_closed(self, verb):
        if self.closed_at is not None:
            raise AlarmTransitionRefused("state", f"This alarm is closed; there is nothing to {verb}.")

    def _mark_acknowledged(self, user, now):
        self.acknowledged, self.acknowledged_at, self.acknowledged_by = True, now, user
        self.unacknowledged_since = None

    def _mark_unacknowledged(self, now):
        """A new unacknowledged spell: it must be acknowledged again, and may escalate again."""
        self.acknowledged, self.acknowledged_at, self.acknowledged_by = False, None, None
        self.unacknowledged_since, self.escalated_at = now, None

    def _end_shelve(self):
        self.shelved_until, self.shelved_at, self.shelved_by, self.shelve_reason = None, None, None, ""

    def _close(self, reason, now):
        self.closed_at, self.close_reason, self.absent_since = now, reason, None
        self._end_shelve()

    def notifies(self, kind):
        """Whether an event of ``kind`` on this alarm, as it now is, should reach people (mail, webhooks).

        Raises, severity rises and escalations do; a return to normal does the first time only (after a
        chatter it would page on every flap); nothing does while the alarm is shelved; operators' own
        actions and re-activations within the hold-off (chatter) do not.
        """
        if kind == AlarmEventKind.RAISED or kind == AlarmEventKind.ESCALATED:
            return True
        if self.shelved_until is not None:
            return False
        if kind == AlarmEventKind.SEVERITY_RAISED:
            return True
        if kind == AlarmEventKind.RETURNED_TO_NORMAL:
            return self.reactivation_count == 0
        return False

    def record(self, kind, *, at, actor=None, comment="", details=None, from_state=None):
        """Saves this (locked) alarm and appends the event of the transition, in the caller's transaction,
        with the deliveries of its notifications when it notifies (``alarms.notifications.plan_deliveries``);
        the notifications hook runs once the transaction commits. ``from_state`` defaults to the state
        the alarm was loaded with. Costs three queries, and up to three more for an event that notifies."""
        from alarms.notifications import alarm_event_committed, plan_deliveries

        before = self.state if from_state is None else from_state
        self.save()
        self.refresh_from_db(fields=["state"])
        event = AlarmEvent.objects.create(
            alarm=self,
            kind=kind,
            at=at,
            from_state=before or "",
            to_state=self.state,
            actor=actor,
            comment=comment or "",
            severity=self.peak_severity,
            notify=self.notifies(kind),
            details=details or {},
        )
        if event.notify:
            plan_deliveries(event)
        # Robust: the change has committed whatever the hook meets; a failing hook is logged, and what it
        # would have enqueued is the sweeper's.
        transaction.on_commit(lambda: alarm_event_committed(event.pk), robust=True)
        return event


class AlarmEvent(models.Model):
    """One step in an alarm's life — raised, acknowledged, shelved, returned to normal… — with who did it,
    when, why and the state before and after. Append-only: a database trigger refuses any UPDATE, and
    rows go only with their alarm (deleting a well deletes its alarms)."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=AlarmEventKind.choices)
    at = models.DateTimeField(help_text="When it happened, by the clock of whatever made it happen.")
    recorded_at = models.DateTimeField(auto_now_add=True)
    from_state = models.CharField(max_length=32, choices=AlarmState.choices, blank=True)
    to_state = models.CharField(max_length=32, choices=AlarmState.choices)
    # Users who acted on alarms are deactivated, not deleted, so the trail keeps its names.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="alarm_events"
    )
    comment = models.TextField(blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, help_text="The alarm's peak severity then.")
    notify = models.BooleanField(default=False, help_text="Whether this step should reach people (mail, webhooks).")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["alarm", "at"], name="alarm_event_alarm_time"),
            models.Index(fields=["kind", "at"], name="alarm_event_kind_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Alarm events are append-only.")
        super().save(*args, **kwargs)


class OutOfServiceQuerySet(models.QuerySet):
    def in_force(self, at):
        """Entries suppressing alarms at ``at``: started, not returned to service, not past their end."""
        return self.filter(ended_at__isnull=True, starts_at__lte=at).filter(Q(until__isnull=True) | Q(until__gt=at))

    def covering(self, well, alarm_type, at):
        """Entries in force at ``at`` that cover this well's alarms of this type."""
        return self.in_force(at).filter(
            Q(well=well) | Q(well__isnull=True), Q(alarm_type=alarm_type) | Q(alarm_type="")
        )


class OutOfService(models.Model):
    """A well, an alarm type (fleet-wide) or one type on one well taken out of alarm service by an admin —
    a pump being worked over, a sensor known to be broken — with the reason, and optionally until when.

    While it is in force, conditions it covers raise no alarm; they are counted here instead.
    """

    well = models.ForeignKey(Well, on_delete=models.CASCADE, null=True, blank=True, related_name="out_of_service")
    alarm_type = models.CharField(max_length=32, blank=True, help_text="A diagnostic type; blank: every type.")
    reason = models.TextField()
    starts_at = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True, help_text="Blank: until returned to service.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When an admin returned it to service.")
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    suppressed_count = models.PositiveIntegerField(default=0, help_text="Raises it kept from alarming.")
    last_suppressed_at = models.DateTimeField(null=True, blank=True)

    objects = OutOfServiceQuerySet.as_manager()

    class Meta:
        verbose_name = "out-of-service entry"
        verbose_name_plural = "out of service"
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(well__isnull=False) | ~Q(alarm_type=""), name="out_of_service_names_well_or_type"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="out_of_service_has_reason"),
            models.CheckConstraint(
                condition=Q(until__isnull=True) | Q(until__gt=F("starts_at")), name="out_of_service_ends_after_start"
            ),
        ]

    def __str__(self):
        scope = " / ".join(part for part in (self.well.well_id if self.well else "", self.alarm_type_label) if part)
        return f"{scope} out of service"

    @property
    def alarm_type_label(self):
        return alarm_type_label(self.alarm_type)

    def in_force_at(self, at):
        return self.ended_at is None and self.starts_at <= at and (self.until is None or self.until > at)


# --- Notifications -------------------------------------------------------------------------------

# The event kinds that can reach people (``Alarm.notifies`` decides for each event); preferences and
# receivers choose among these.
NOTIFYING_KINDS = [
    AlarmEventKind.RAISED.value,
    AlarmEventKind.SEVERITY_RAISED.value,
    AlarmEventKind.ESCALATED.value,
    AlarmEventKind.RETURNED_TO_NORMAL.value,
]


def all_notifying_kinds():
    return list(NOTIFYING_KINDS)


def validate_webhook_url(value):
    """An http:// or https:// URL with a host — bare host names (``http://scada-gw:8080/hook``) included,
    which Django's URLValidator refuses but plant networks use."""
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("Enter an http:// or https:// URL.", code="invalid")


def generate_webhook_secret():
    """A new HMAC key for a webhook receiver: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


class NotificationPreference(models.Model):
    """What alarm e-mail one user wants: whether any, from which severity, for which kinds of event.

    A user without a row (or with ``email`` off) gets no alarm e-mail; e-mail goes to the address on the
    account, and only while the user is active and holds a role.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alarm_notification_preference"
    )
    email = models.BooleanField(default=False, help_text="Send alarm notifications by e-mail to the account's address.")
    min_severity = models.CharField(
        max_length=8,
        choices=[(s, Severity(s).label) for s in ALARM_SEVERITIES],
        default=Severity.WARNING,
        help_text="Only alarms of this severity or worse (the alarm's peak severity at the event).",
    )
    kinds = models.JSONField(default=all_notifying_kinds, help_text="The kinds of event to notify, of NOTIFYING_KINDS.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_severity__in=ALARM_SEVERITIES), name="notification_preference_severity_alarming"
            ),
        ]

    def __str__(self):
        return f"Alarm e-mail of {self.user.get_username()}"


class WebhookReceiver(models.Model):
    """A system that receives alarm notifications as signed JSON POSTs — a SCADA gateway, a chat channel, an
    on-call pager — configured by an admin, with the severity, kinds of event and wells it wants.

    ``secret`` is the HMAC-SHA256 key the receiver verifies ``X-ESP-Signature`` with; it is stored as is
    (an HMAC needs the key itself), never shown by the API after creation nor on the admin's pages.
    """

    name = models.CharField(max_length=120, unique=True)
    url = models.CharField(
        max_length=500,
        validators=[validate_webhook_url],
        help_text="http:// or https:// address the notifications are POSTed to.",
    )
    secret = models.CharField(max_length=128, default=generate_webhook_secret)
    active = models.BooleanField(default=True, help_text="Inactive receivers get nothing (pending deliveries give up).")
    min_severity = models.CharField(
        max_length=8,
        choices=[(s, Severity(s).label) for s in ALARM_SEVERITIES],
        default=Severity.WARNING,
        help_text="Only alarms of this severity or worse.",
    )
    kinds = models.JSONField(default=all_notifying_kinds, help_text="The kinds of event to send, of NOTIFYING_KINDS.")
    field = models.CharField(max_length=120, blank=True, help_text="Only wells of this field; blank: every field.")
    wells = models.ManyToManyField(
        Well, blank=True, related_name="+", help_text="Only these wells; none chosen: every well."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"), name="webhook_receiver_url_http"
            ),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_receiver_has_secret"),
            models.CheckConstraint(
                condition=Q(min_severity__in=ALARM_SEVERITIES), name="webhook_receiver_severity_alarming"
            ),
        ]

    def __str__(self):
        return self.name


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    """Where one delivery is (the state machine is in ``alarms.notifications``)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    GAVE_UP = "gave_up", "Gave up"


# Deliveries a worker may still have to attempt: what the sweeper's index covers.
UNFINISHED_STATUSES = [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value, DeliveryStatus.FAILED.value]


class NotificationDelivery(models.Model):
    """One notification of one alarm event to one recipient — an e-mail address or a webhook receiver —
    and what became of it: attempts, the last error and response code, when it was sent or given up.

    Written in the transaction of the event it announces (one row per recipient, which the unique
    constraints hold to), so a committed event has all its deliveries and a rolled-back one none.
    ``payload`` is what the notification says, fixed at the event: every attempt sends the same facts.
    """

    event = models.ForeignKey(AlarmEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    recipient = models.CharField(
        max_length=254, help_text="The e-mail address, or the webhook receiver's name when it was planned."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The user whose preference asked for it; empty for escalation receivers.",
    )
    webhook = models.ForeignKey(
        WebhookReceiver, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    payload = models.JSONField(help_text="The notification's content, fixed when the event was recorded.")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(
        default=timezone.now, help_text="When it is due (pending or failed): the backoff's clock."
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="While sending: when another worker may take the delivery over."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The receiver's HTTP status, or the SMTP server's reply code."
    )
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "notification deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper's question: unfinished deliveries by when they are due.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=UNFINISHED_STATUSES), name="delivery_unfinished_due"
            ),
            models.Index(fields=["status", "-created_at"], name="delivery_status_created"),
        ]
        constraints = [
            # Once per transition: one e-mail per address and one POST per receiver for an event.
            models.UniqueConstraint(
                fields=["event", "recipient"], condition=Q(channel="email"), name="delivery_one_email_per_address"
            ),
            models.UniqueConstraint(
                fields=["event", "webhook"],
                condition=Q(channel="webhook", webhook__isnull=False),
                name="delivery_one_post_per_receiver",
            ),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_status_known"),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="delivery_sent_when_sent",
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.recipient} ({self.get_status_display()})"
