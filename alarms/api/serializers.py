"""Bodies and query parameters of the alarms API."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from alarms.kpis import MAX_DAYS
from alarms.models import (
    ALARM_FINDING_FIELDS,
    ALARM_RESPONSE_FIELDS,
    ALARM_SEVERITIES,
    COMMENT_MAX_LENGTH,
    DELIVERY_OUTCOME_FIELDS,
    NOTIFYING_KINDS,
    OPEN_STATES,
    Alarm,
    AlarmEvent,
    AlarmState,
    CloseReason,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
    NotificationPreference,
    OutOfService,
    WebhookReceiver,
    all_notifying_kinds,
)
from analytics.models import DiagnosticType, Severity
from config.params import QueryParams
from wells.models import Well

OPEN = "open"


class UsernameField(serializers.CharField):
    """A user shown by username (null when nobody)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, user):
        return user.get_username()


class AlarmEventSerializer(serializers.ModelSerializer):
    actor = UsernameField(help_text="Who did it; null when the platform did (diagnostics, timers).")

    class Meta:
        model = AlarmEvent
        fields = ["id", "kind", "at", "from_state", "to_state", "actor", "comment", "severity", "notify", "details"]


class AlarmSerializer(serializers.ModelSerializer):
    well_id = serializers.CharField(source="well.well_id", read_only=True)
    alarm_type = serializers.ChoiceField(choices=DiagnosticType.choices, read_only=True)
    state = serializers.ChoiceField(choices=AlarmState.choices, read_only=True)
    close_reason = serializers.ChoiceField(
        choices=CloseReason.choices, allow_blank=True, read_only=True, help_text='Why it closed; "" while open.'
    )
    acknowledged_by = UsernameField()
    shelved_by = UsernameField()

    class Meta:
        model = Alarm
        fields = [
            "id",
            "well_id",
            "alarm_type",
            "state",
            "active",
            "acknowledged",
            "peak_severity",
            "last_severity",
            "raised_at",
            "activated_at",
            "last_seen_at",
            "returned_at",
            "occurrence_count",
            "reactivation_count",
            *ALARM_RESPONSE_FIELDS,
            *ALARM_FINDING_FIELDS,
        ]
        read_only_fields = fields


class AlarmDetailSerializer(AlarmSerializer):
    events = AlarmEventSerializer(many=True, read_only=True, help_text="The alarm's history, oldest first.")

    class Meta(AlarmSerializer.Meta):
        fields = [*AlarmSerializer.Meta.fields, "events"]
        read_only_fields = fields


class AlarmFilterParams(QueryParams):
    state = serializers.ChoiceField(
        choices=[OPEN, *AlarmState.values],
        required=False,
        help_text=f"One state, or `{OPEN}` for every state but closed ({', '.join(OPEN_STATES)}).",
    )
    severity = serializers.ChoiceField(
        choices=ALARM_SEVERITIES, required=False, help_text="Peak severity (the alarm's priority)."
    )
    well = serializers.CharField(required=False, max_length=24, help_text="A well ID; unknown → 404.")
    type = serializers.ChoiceField(choices=DiagnosticType.values, required=False, help_text="The alarm type.")
    since = serializers.DateTimeField(required=False, help_text="Only alarms raised at or after (ISO 8601).")


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH, default="")


class ShelveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH, help_text="Why it is shelved (required; shown in the alarm's history)."
    )
    until = serializers.DateTimeField(
        help_text="When the shelve expires (in the future, within ALARM_SHELVE_MAX_HOURS)."
    )


class KpiParams(QueryParams):
    days = serializers.IntegerField(
        default=7, min_value=1, max_value=MAX_DAYS, help_text="The window: the last N days."
    )


class TopAlarmSerializer(serializers.Serializer):
    well_id = serializers.CharField()
    alarm_type = serializers.CharField()
    activations = serializers.IntegerField()
    share = serializers.FloatField(help_text="Of every activation in the window, 0–1.")


class KpiThresholdsSerializer(serializers.Serializer):
    flood_above_per_10_min = serializers.IntegerField()
    standing_after_hours = serializers.FloatField()
    chatter_activations = serializers.IntegerField()
    chatter_within_minutes = serializers.FloatField()


class AlarmKpiSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    activations = serializers.IntegerField(help_text="Alarms raised or re-activated in the window.")
    alarms_raised = serializers.IntegerField()
    average_per_10_min = serializers.FloatField(help_text="EEMUA 191 steady-state target: below 1.")
    peak_per_10_min = serializers.IntegerField()
    flood_share = serializers.FloatField(help_text="Share of 10-minute buckets with more than 10 activations, 0–1.")
    standing_alarms = serializers.IntegerField(help_text="Open alarms active for more than 24 hours.")
    chattering_alarms = serializers.IntegerField(help_text="(well, type) pairs active 3+ times within 60 minutes.")
    top_alarms = TopAlarmSerializer(many=True, help_text="The 10 (well, type) pairs with the most activations.")
    acknowledged_share = serializers.FloatField(
        allow_null=True,
        help_text="Of the alarms raised in the window, those acknowledged or cleared; null: none raised.",
    )
    median_time_to_acknowledge_seconds = serializers.FloatField(allow_null=True)
    thresholds = KpiThresholdsSerializer()


class OutOfServiceSerializer(serializers.ModelSerializer):
    well_id = serializers.SlugRelatedField(
        source="well",
        slug_field="well_id",
        read_only=True,
        allow_null=True,
        help_text="The well taken out of service; null: every well (for alarm_type).",
    )
    alarm_type = serializers.CharField(read_only=True, help_text='The alarm type; "": every type (of well_id).')
    created_by = UsernameField()
    ended_by = UsernameField()
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = OutOfService
        fields = [
            "id",
            "well_id",
            "alarm_type",
            "reason",
            "starts_at",
            "until",
            "ended_at",
            "created_by",
            "ended_by",
            "suppressed_count",
            "last_suppressed_at",
            "in_force",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(help_text="Suppressing alarms now."))
    def get_in_force(self, entry):
        return entry.in_force_at(self.context.get("now") or timezone.now())


class OutOfServiceCreateSerializer(serializers.Serializer):
    well_id = serializers.CharField(
        required=False, allow_null=True, max_length=24, help_text="A well ID; omit for an alarm type on every well."
    )
    alarm_type = serializers.ChoiceField(
        choices=DiagnosticType.values, required=False, allow_null=True, help_text="Omit for every type of the well."
    )
    reason = serializers.CharField(max_length=COMMENT_MAX_LENGTH)
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="Omit: until returned to service.")

    def validate_well_id(self, value):
        if value is None:
            return None
        well = Well.objects.filter(well_id=value).first()
        if well is None:
            raise serializers.ValidationError(f"No well with ID {value!r}.")
        return well


# --- Notifications ---------------------------------------------------------------------------------


def _kinds_field(help_text):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=NOTIFYING_KINDS),
        allow_empty=False,
        default=all_notifying_kinds,
        help_text=help_text,
    )


def _in_order(kinds):
    """The chosen kinds once each, in NOTIFYING_KINDS order."""
    return [kind for kind in NOTIFYING_KINDS if kind in kinds]


class RequiredBooleanField(serializers.BooleanField):
    """A required boolean that form data must name too: DRF reads a form without the field as false (an
    unchecked box), which would turn e-mail off for a client that forgot it (found by the API fuzz tests)."""

    default_empty_html = empty


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    email = RequiredBooleanField(
        help_text="Send me alarm notifications by e-mail (to `address`, the address on my account)."
    )
    min_severity = serializers.ChoiceField(
        choices=ALARM_SEVERITIES, default=Severity.WARNING.value, help_text="Only alarms this severe or worse."
    )
    kinds = _kinds_field("The events to notify me of; omitted: all four.")
    # A CharField, not an EmailField: "" (no address on the account) is a valid answer, not an e-mail address.
    address = serializers.CharField(
        source="user.email", read_only=True, help_text='Where the e-mail goes ("" when the account has none).'
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null: never saved.")

    class Meta:
        model = NotificationPreference
        fields = ["email", "min_severity", "kinds", "address", "updated_at"]

    def validate_kinds(self, kinds):
        return _in_order(kinds)

    def validate_email(self, wanted):
        if wanted and not self.context["request"].user.email:
            raise serializers.ValidationError("Your account has no e-mail address; ask an admin to add one.")
        return wanted


class WebhookReceiverSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=128,
        trim_whitespace=False,
        help_text="The HMAC-SHA256 key the receiver verifies X-ESP-Signature with. Write-only; on create it "
        "is generated when omitted and shown once, in the answer.",
    )
    min_severity = serializers.ChoiceField(
        choices=ALARM_SEVERITIES, default=Severity.WARNING.value, help_text="Only alarms this severe or worse."
    )
    kinds = _kinds_field("The events to send; omitted: all four.")
    field = serializers.CharField(
        max_length=120, required=False, allow_blank=True, help_text='Only wells of this field; "": every field.'
    )
    well_ids = serializers.SlugRelatedField(
        source="wells",
        slug_field="well_id",
        many=True,
        required=False,
        queryset=Well.objects.all(),
        help_text="Only these wells; empty: every well.",
    )

    class Meta:
        model = WebhookReceiver
        fields = [
            "id",
            "name",
            "url",
            "secret",
            "active",
            "min_severity",
            "kinds",
            "field",
            "well_ids",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_kinds(self, kinds):
        return _in_order(kinds)


class WebhookReceiverCreatedSerializer(WebhookReceiverSerializer):
    """The answer to a create: the receiver with its secret, this once."""

    secret = serializers.CharField(read_only=True, help_text="The HMAC key. Shown this once: store it now.")


class NotificationDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(read_only=True)
    event_kind = serializers.ChoiceField(source="event.kind", choices=NOTIFYING_KINDS, read_only=True)
    alarm_id = serializers.IntegerField(source="event.alarm_id", read_only=True)
    well_id = serializers.CharField(source="event.alarm.well.well_id", read_only=True)
    webhook_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The receiver (webhooks); null for e-mail or a deleted receiver."
    )
    response_code = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The receiver's HTTP status, or the SMTP server's reply code."
    )

    class Meta:
        model = NotificationDelivery
        fields = [
            "id",
            "event_id",
            "event_kind",
            "alarm_id",
            "well_id",
            "channel",
            "recipient",
            "webhook_id",
            *DELIVERY_OUTCOME_FIELDS,
        ]
        read_only_fields = fields


class DeliveryFilterParams(QueryParams):
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
    channel = serializers.ChoiceField(choices=NotificationChannel.values, required=False)
    alarm = serializers.IntegerField(required=False, min_value=1, help_text="Only the deliveries of this alarm.")
