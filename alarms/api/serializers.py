"""Bodies and query parameters of the alarms API."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alarms.kpis import MAX_DAYS
from alarms.models import (
    ALARM_SEVERITIES,
    COMMENT_MAX_LENGTH,
    OPEN_STATES,
    Alarm,
    AlarmEvent,
    AlarmState,
    CloseReason,
    OutOfService,
)
from analytics.models import DiagnosticType
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
            "unacknowledged_since",
            "acknowledged_at",
            "acknowledged_by",
            "escalated_at",
            "shelved_until",
            "shelved_by",
            "shelve_reason",
            "closed_at",
            "close_reason",
            "confidence",
            "evidence",
            "recommended_action",
        ]
        read_only_fields = fields


class AlarmDetailSerializer(AlarmSerializer):
    events = AlarmEventSerializer(many=True, read_only=True, help_text="The alarm's history, oldest first.")

    class Meta(AlarmSerializer.Meta):
        fields = [*AlarmSerializer.Meta.fields, "events"]
        read_only_fields = fields


class AlarmFilterParams(serializers.Serializer):
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


class KpiParams(serializers.Serializer):
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
