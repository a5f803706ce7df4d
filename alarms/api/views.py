"""The alarms API: list and read alarms (viewer+), act on them (operator+), out of service (admin), KPIs,
notification preferences (each signed-in user's own), webhook receivers and the delivery log (admin).

Views parse the request and shape the answer; the transitions are ``Alarm`` methods and
``alarms.lifecycle`` functions, each one transaction that changes nothing when it refuses. Expired
shelves are ended before any alarm is read or acted on (the beat task does it every minute too).
"""

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, IsViewer, RolePermission
from accounts.roles import Role
from alarms import kpis, lifecycle
from alarms.api.serializers import (
    OPEN,
    AlarmDetailSerializer,
    AlarmFilterParams,
    AlarmKpiSerializer,
    AlarmSerializer,
    CommentSerializer,
    DeliveryFilterParams,
    KpiParams,
    NotificationDeliverySerializer,
    NotificationPreferenceSerializer,
    OutOfServiceCreateSerializer,
    OutOfServiceSerializer,
    ShelveSerializer,
    WebhookReceiverCreatedSerializer,
    WebhookReceiverSerializer,
)
from alarms.models import (
    Alarm,
    AlarmEvent,
    AlarmState,
    AlarmTransitionRefused,
    NotificationDelivery,
    NotificationPreference,
    OutOfService,
    WebhookReceiver,
)
from wells.models import Well

ALARM_EXAMPLE = {
    "id": 412,
    "well_id": "WELL-003",
    "alarm_type": "gas_lock",
    "state": "active_unacknowledged",
    "active": True,
    "acknowledged": False,
    "peak_severity": "critical",
    "last_severity": "critical",
    "raised_at": "2026-11-28T10:05:00Z",
    "activated_at": "2026-11-28T10:05:00Z",
    "last_seen_at": "2026-11-28T10:35:00Z",
    "returned_at": None,
    "occurrence_count": 7,
    "reactivation_count": 0,
    "unacknowledged_since": "2026-11-28T10:05:00Z",
    "acknowledged_at": None,
    "acknowledged_by": None,
    "escalated_at": "2026-11-28T10:20:00Z",
    "shelved_until": None,
    "shelved_by": None,
    "shelve_reason": "",
    "closed_at": None,
    "close_reason": "",
    "confidence": 0.9,
    "evidence": {"current_a": 21.4, "normal_current_a": 47.9, "flow_bpd": 12.0, "pip_psi": 1190.0},
    "recommended_action": "Cycle the pump or lower the frequency to let the gas vent.",
}
RAISED_EVENT = {
    "id": 9001,
    "kind": "raised",
    "at": "2026-11-28T10:05:00Z",
    "from_state": "",
    "to_state": "active_unacknowledged",
    "actor": None,
    "comment": "",
    "severity": "critical",
    "notify": True,
    "details": {"evidence": {"current_a": 21.4, "flow_bpd": 12.0}, "confidence": 0.9},
}
ACKNOWLEDGED_EXAMPLE = {
    **ALARM_EXAMPLE,
    "state": "active_acknowledged",
    "acknowledged": True,
    "unacknowledged_since": None,
    "acknowledged_at": "2026-11-28T10:41:00Z",
    "acknowledged_by": "omar_operator",
    "events": [
        RAISED_EVENT,
        {
            "id": 9017,
            "kind": "acknowledged",
            "at": "2026-11-28T10:41:00Z",
            "from_state": "active_unacknowledged",
            "to_state": "active_acknowledged",
            "actor": "omar_operator",
            "comment": "Crew on the way.",
            "severity": "critical",
            "notify": False,
            "details": {},
        },
    ],
}
SHELVED_EXAMPLE = {
    **ALARM_EXAMPLE,
    "state": "shelved",
    "shelved_until": "2026-11-28T18:00:00Z",
    "shelved_by": "omar_operator",
    "shelve_reason": "Known gas slugging after the workover; engineer reviewing.",
    "events": [RAISED_EVENT],
}
CLEARED_EXAMPLE = {
    **ALARM_EXAMPLE,
    "state": "closed",
    "active": False,
    "acknowledged": True,
    "returned_at": "2026-11-28T11:00:00Z",
    "acknowledged_at": "2026-11-28T11:00:00Z",
    "acknowledged_by": "omar_operator",
    "unacknowledged_since": None,
    "closed_at": "2026-11-28T11:00:00Z",
    "close_reason": "cleared",
    "events": [RAISED_EVENT],
}
OUT_OF_SERVICE_EXAMPLE = {
    "id": 12,
    "well_id": "WELL-003",
    "alarm_type": "",
    "reason": "Workover rig on site until Friday.",
    "starts_at": "2026-11-28T07:00:00Z",
    "until": "2026-12-02T18:00:00Z",
    "ended_at": None,
    "created_by": "ada_admin",
    "ended_by": None,
    "suppressed_count": 3,
    "last_suppressed_at": "2026-11-28T10:35:00Z",
    "in_force": True,
}
KPI_EXAMPLE = {
    "days": 7,
    "start": "2026-11-21T10:00:00Z",
    "end": "2026-11-28T10:00:00Z",
    "activations": 96,
    "alarms_raised": 81,
    "average_per_10_min": 0.095,
    "peak_per_10_min": 12,
    "flood_share": 0.001,
    "standing_alarms": 2,
    "chattering_alarms": 1,
    "top_alarms": [{"well_id": "WELL-003", "alarm_type": "gas_interference", "activations": 14, "share": 0.1458}],
    "acknowledged_share": 0.9136,
    "median_time_to_acknowledge_seconds": 312.0,
    "thresholds": {
        "flood_above_per_10_min": 10,
        "standing_after_hours": 24.0,
        "chatter_activations": 3,
        "chatter_within_minutes": 60.0,
    },
}

# The body of every 400 and 404 here: what is wrong, keyed by the field or parameter in error (DRF's own
# errors, e.g. an unknown alarm id or a body that is not JSON, use the key "detail"; a list field's errors
# are keyed by the position of each bad item).
NAMED_ERRORS = {
    "type": "object",
    "description": "What is wrong, keyed by the field or parameter in error.",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}]
    },
}


def _error(description):
    return OpenApiResponse(NAMED_ERRORS, description=description)


NO_ALARM = _error("No alarm with that id.")
NO_ENTRY = _error("No out-of-service entry with that id.")
REFUSED = _error(
    "The alarm's state does not allow it, or the body is wrong; the answer names the field, "
    'e.g. {"state": ["This alarm is already acknowledged (by omar_operator at 2026-11-28 10:41 UTC)."]}.'
)


def _example(title, value, **kwargs):
    return OpenApiExample(title, value=value, response_only=True, **kwargs)


def _refused(title, field, message):
    return OpenApiExample(title, value={field: [message]}, response_only=True, status_codes=["400"])


def _refusing(transition):
    """Runs ``transition``; a refusal becomes a 400 naming the field."""
    try:
        return transition()
    except AlarmTransitionRefused as refused:
        raise serializers.ValidationError({refused.field: [refused.message]}) from None


class UnshelvingExpiredMixin:
    """Ends expired shelves before a request reads or acts on alarms (after its permission checks)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        lifecycle.unshelve_expired(now=timezone.now())


def _comment_action(summary, description, example_title, example, request_example):
    return extend_schema(
        summary=summary,
        description=description,
        request=CommentSerializer,
        responses={200: AlarmDetailSerializer, 400: REFUSED, 404: NO_ALARM},
        examples=[
            OpenApiExample("Comment", value=request_example, request_only=True),
            _example(example_title, example),
            _refused("Closed", "state", "This alarm is closed; there is nothing to do."),
        ],
    )


@extend_schema_view(
    list=extend_schema(
        summary="List alarms, newest first",
        description="Filter by `state` (or `open`), peak `severity`, `well`, `type` and `since` (raised at or "
        "after). A bad filter is a 400 naming it; an unknown well a 404.",
        parameters=[AlarmFilterParams],
        responses={
            200: AlarmSerializer(many=True),
            400: _error('A filter is invalid; e.g. {"state": ["\\"x\\" is not a valid choice."]}.'),
            404: _error('No well with that ID: {"well": ["No well with ID \'WELL-999\'."]}.'),
        },
        examples=[_example("Open alarms", ALARM_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One alarm with its history",
        responses={200: AlarmDetailSerializer, 404: NO_ALARM},
        examples=[_example("Acknowledged alarm", ACKNOWLEDGED_EXAMPLE)],
    ),
    acknowledge=_comment_action(
        "Acknowledge an alarm (operator or admin)",
        "The operator has seen it. An alarm that has already returned to normal closes. Acknowledging an "
        "acknowledged or closed alarm is a 400.",
        "Acknowledged",
        ACKNOWLEDGED_EXAMPLE,
        {"comment": "Crew on the way."},
    ),
    unshelve=_comment_action(
        "Unshelve an alarm before its shelve expires (operator or admin)",
        "Back to the state underneath; an alarm that is not shelved is a 400.",
        "Unshelved",
        ALARM_EXAMPLE,
        {"comment": "Engineer has reviewed it."},
    ),
    clear=_comment_action(
        "Clear an alarm: the operator's manual reset (operator or admin)",
        "Closes an open alarm whatever its state, acknowledging it if need be — for a condition the "
        "diagnostics can no longer judge (a well shut in, a sensor replaced). If the condition is still "
        "there, the next diagnostics run raises a new alarm.",
        "Cleared",
        CLEARED_EXAMPLE,
        {"comment": "Sensor replaced; reading normal."},
    ),
    shelve=extend_schema(
        summary="Shelve an alarm until a time, with a reason (operator or admin)",
        description="A shelved alarm is still evaluated and counted, but is not listed as needing action, not "
        "escalated and not notified until the shelve expires (then it is unshelved automatically). A missing "
        "reason, an expiry in the past or beyond ALARM_SHELVE_MAX_HOURS, or an alarm already shelved or "
        "closed is a 400.",
        request=ShelveSerializer,
        responses={200: AlarmDetailSerializer, 400: REFUSED, 404: NO_ALARM},
        examples=[
            OpenApiExample(
                "Shelve for the shift",
                value={
                    "reason": "Known gas slugging after the workover; engineer reviewing.",
                    "until": "2026-11-28T18:00:00Z",
                },
                request_only=True,
            ),
            _example("Shelved", SHELVED_EXAMPLE),
            _refused("No reason", "reason", "This field is required."),
            _refused("Expiry in the past", "until", "The shelve's expiry must be in the future."),
        ],
    ),
)
@extend_schema(tags=["Alarms"])
class AlarmViewSet(UnshelvingExpiredMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alarms. Everyone with a role reads them; operators and admins act on them."""

    permission_classes = [RolePermission]
    required_roles = {"GET": Role.VIEWER, "POST": Role.OPERATOR}
    lookup_value_regex = r"[0-9]+"
    queryset = Alarm.objects.select_related("well", "acknowledged_by", "shelved_by").order_by("-raised_at", "-id")

    def get_serializer_class(self):
        return AlarmSerializer if self.action == "list" else AlarmDetailSerializer

    def get_queryset(self):
        alarms = super().get_queryset()
        if self.action != "list":
            return alarms.prefetch_related(Prefetch("events", queryset=AlarmEvent.objects.select_related("actor")))
        params = AlarmFilterParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        if (state := filters.get("state")) is not None:
            alarms = alarms.exclude(state=AlarmState.CLOSED) if state == OPEN else alarms.filter(state=state)
        if (severity := filters.get("severity")) is not None:
            alarms = alarms.filter(peak_severity=severity)
        if (well_id := filters.get("well")) is not None:
            well = Well.objects.filter(well_id=well_id).first()
            if well is None:
                raise NotFound({"well": [f"No well with ID {well_id!r}."]})
            alarms = alarms.filter(well=well)
        if (alarm_type := filters.get("type")) is not None:
            alarms = alarms.filter(alarm_type=alarm_type)
        if (since := filters.get("since")) is not None:
            alarms = alarms.filter(raised_at__gte=since)
        return alarms

    def _answer(self, alarm):
        return Response(AlarmDetailSerializer(self.get_queryset().get(pk=alarm.pk)).data)

    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alarm = self.get_object()
        _refusing(lambda: alarm.acknowledge(request.user, now=timezone.now(), **body.validated_data))
        return self._answer(alarm)

    @action(detail=True, methods=["post"])
    def shelve(self, request, pk=None):
        body = ShelveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alarm = self.get_object()
        _refusing(lambda: alarm.shelve(request.user, now=timezone.now(), **body.validated_data))
        return self._answer(alarm)

    @action(detail=True, methods=["post"])
    def unshelve(self, request, pk=None):
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alarm = self.get_object()
        _refusing(lambda: alarm.unshelve(request.user, now=timezone.now(), **body.validated_data))
        return self._answer(alarm)

    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alarm = self.get_object()
        _refusing(lambda: alarm.clear(request.user, now=timezone.now(), **body.validated_data))
        return self._answer(alarm)


@extend_schema_view(
    list=extend_schema(
        summary="What is out of alarm service, newest first",
        responses={200: OutOfServiceSerializer(many=True)},
        examples=[_example("A well under workover", OUT_OF_SERVICE_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One out-of-service entry",
        responses={200: OutOfServiceSerializer, 404: NO_ENTRY},
        examples=[_example("A well under workover", OUT_OF_SERVICE_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Take a well, an alarm type or both out of alarm service (admin)",
        description="From now until `until` (or until returned to service), conditions it covers raise no "
        "alarm; they are counted on the entry. Open alarms it covers are closed. A missing reason, neither "
        "well nor type, an unknown well or an end in the past is a 400 naming the field.",
        request=OutOfServiceCreateSerializer,
        responses={201: OutOfServiceSerializer, 400: REFUSED},
        examples=[
            OpenApiExample(
                "A well under workover",
                value={
                    "well_id": "WELL-003",
                    "reason": "Workover rig on site until Friday.",
                    "until": "2026-12-02T18:00:00Z",
                },
                request_only=True,
            ),
            _example("Taken out of service", OUT_OF_SERVICE_EXAMPLE, status_codes=["201"]),
            _refused("No reason", "reason", "This field is required."),
        ],
    ),
    return_to_service=extend_schema(
        summary="Return an out-of-service entry to service (admin)",
        description="From now its conditions raise alarms again. An entry already returned is a 400.",
        request=None,
        responses={
            200: OutOfServiceSerializer,
            400: REFUSED,
            404: NO_ENTRY,
        },
        examples=[
            _example(
                "Returned",
                {
                    **OUT_OF_SERVICE_EXAMPLE,
                    "ended_at": "2026-11-30T09:00:00Z",
                    "ended_by": "ada_admin",
                    "in_force": False,
                },
            )
        ],
    ),
)
@extend_schema(tags=["Alarms"])
class OutOfServiceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Wells and alarm types out of alarm service. Everyone with a role reads them; admins change them."""

    permission_classes = [RolePermission]
    required_roles = {"GET": Role.VIEWER, "POST": Role.ADMIN}
    lookup_value_regex = r"[0-9]+"
    queryset = OutOfService.objects.select_related("well", "created_by", "ended_by").order_by("-starts_at", "-id")
    serializer_class = OutOfServiceSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def create(self, request, *args, **kwargs):
        body = OutOfServiceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        entry = _refusing(
            lambda: lifecycle.take_out_of_service(
                well=values.get("well_id"),
                alarm_type=values.get("alarm_type") or "",
                reason=values["reason"],
                until=values.get("until"),
                user=request.user,
                now=timezone.now(),
            )
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=entry.pk)).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="return-to-service")
    def return_to_service(self, request, pk=None):
        entry = self.get_object()
        _refusing(lambda: lifecycle.return_to_service(entry, user=request.user, now=timezone.now()))
        return Response(self.get_serializer(self.get_queryset().get(pk=entry.pk)).data)


@extend_schema(
    tags=["Alarms"],
    summary="Alarm-system KPIs (EEMUA 191 / ISA-18.2) over the last days",
    description="Activations (alarms raised or re-activated) per 10 minutes, average and peak; the share of "
    "10-minute buckets in flood (more than 10); standing alarms (active over 24 h); chattering (well, type) "
    "pairs (3+ activations within 60 minutes); the 10 most frequent (well, type) pairs; the share of alarms "
    "raised in the window that were acknowledged, and the median time to acknowledge. `days` 1–90.",
    parameters=[KpiParams],
    responses={
        200: AlarmKpiSerializer,
        400: _error('`days` out of bounds: {"days": ["Ensure this value is less than or equal to 90."]}.'),
    },
    examples=[_example("A week", KPI_EXAMPLE)],
)
class AlarmKpiView(APIView):
    permission_classes = [IsViewer]

    def get(self, request):
        params = KpiParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(
            AlarmKpiSerializer(kpis.alarm_kpis(days=params.validated_data["days"], now=timezone.now())).data
        )


# --- Notifications ---------------------------------------------------------------------------------

PREFERENCE_EXAMPLE = {
    "email": True,
    "min_severity": "critical",
    "kinds": ["raised", "severity_raised", "escalated"],
    "address": "omar.operator@example.com",
    "updated_at": "2026-11-28T07:30:00Z",
}
WEBHOOK_EXAMPLE = {
    "id": 3,
    "name": "SCADA gateway",
    "url": "https://scada.example.com/esp/alarms",
    "active": True,
    "min_severity": "critical",
    "kinds": ["raised", "severity_raised", "escalated", "returned_to_normal"],
    "field": "Ghawar",
    "well_ids": [],
    "created_at": "2026-11-20T09:00:00Z",
    "updated_at": "2026-11-20T09:00:00Z",
}
DELIVERY_EXAMPLE = {
    "id": 5012,
    "event_id": 9001,
    "event_kind": "raised",
    "alarm_id": 412,
    "well_id": "WELL-003",
    "channel": "webhook",
    "recipient": "SCADA gateway",
    "webhook_id": 3,
    "status": "failed",
    "attempts": 2,
    "response_code": 503,
    "last_error": "HTTP 503: Service Unavailable",
    "created_at": "2026-11-28T10:05:01Z",
    "last_attempt_at": "2026-11-28T10:05:32Z",
    "next_attempt_at": "2026-11-28T10:06:24Z",
    "sent_at": None,
}
NO_RECEIVER = _error("No webhook receiver with that id.")
BAD_RECEIVER = _error(
    'A field is invalid; the answer names it, e.g. {"url": ["Enter an http:// or https:// URL."]}. Nothing is saved.'
)


@extend_schema(tags=["Alarm notifications"])
@extend_schema_view(
    get=extend_schema(
        summary="My alarm notification preferences",
        description="Whether alarm notifications come to me by e-mail, from which severity and for which events "
        "(raised, severity raised, escalated, returned to normal). Without saved preferences: no e-mail.",
        responses={200: NotificationPreferenceSerializer},
        examples=[_example("E-mail for critical alarms", PREFERENCE_EXAMPLE)],
    ),
    put=extend_schema(
        summary="Set my alarm notification preferences",
        description="Replaces them; omitted `min_severity` and `kinds` take their defaults (warning; all four). "
        "E-mail goes to the address on the account: asking for e-mail without one is a 400 naming `email`.",
        request=NotificationPreferenceSerializer,
        responses={
            200: NotificationPreferenceSerializer,
            400: _error('A field is invalid; e.g. {"min_severity": [""info" is not a valid choice."]}.'),
        },
        examples=[
            OpenApiExample(
                "E-mail for critical alarms",
                value={"email": True, "min_severity": "critical", "kinds": ["raised", "severity_raised", "escalated"]},
                request_only=True,
            ),
            _example("Saved", PREFERENCE_EXAMPLE),
            _refused("No address", "email", "Your account has no e-mail address; ask an admin to add one."),
        ],
    ),
)
class NotificationPreferenceView(APIView):
    """The caller's own preferences, whatever their role."""

    permission_classes = [IsViewer]

    def _current(self, user):
        return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)

    def get(self, request):
        return Response(NotificationPreferenceSerializer(self._current(request.user)).data)

    def put(self, request):
        body = NotificationPreferenceSerializer(
            self._current(request.user), data=request.data, context={"request": request}
        )
        body.is_valid(raise_exception=True)
        body.save()
        return Response(body.data)


@extend_schema_view(
    list=extend_schema(
        summary="Webhook receivers (admin)",
        description="The systems alarm notifications are POSTed to, signed with each one's secret (never shown).",
        responses={200: WebhookReceiverSerializer(many=True)},
        examples=[_example("A SCADA gateway", WEBHOOK_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One webhook receiver (admin)",
        responses={200: WebhookReceiverSerializer, 404: NO_RECEIVER},
        examples=[_example("A SCADA gateway", WEBHOOK_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Add a webhook receiver (admin)",
        description="`url` must be http:// or https://; a `secret` (16–128 characters) is generated when omitted. "
        "The answer shows the secret this once. An invalid field is a 400 naming it, and nothing is saved.",
        request=WebhookReceiverSerializer,
        responses={201: WebhookReceiverCreatedSerializer, 400: BAD_RECEIVER},
        examples=[
            OpenApiExample(
                "A SCADA gateway for one field's critical alarms",
                value={
                    "name": "SCADA gateway",
                    "url": "https://scada.example.com/esp/alarms",
                    "min_severity": "critical",
                    "field": "Ghawar",
                },
                request_only=True,
            ),
            _example(
                "Added, with its secret",
                {**WEBHOOK_EXAMPLE, "secret": "q8Vt0m3yJ2cXhK7pL9sR4wZ1aB6dE5fG0hI3jK8lM2n"},
                status_codes=["201"],
            ),
            _refused("Not http(s)", "url", "Enter an http:// or https:// URL."),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a webhook receiver (admin)",
        description="Any of the fields; a new `secret` replaces the old one (not echoed). An invalid field is a "
        "400 naming it, and nothing is changed.",
        request=WebhookReceiverSerializer,
        responses={200: WebhookReceiverSerializer, 400: BAD_RECEIVER, 404: NO_RECEIVER},
        examples=[
            OpenApiExample("Pause it", value={"active": False}, request_only=True),
            _example("Paused", {**WEBHOOK_EXAMPLE, "active": False, "updated_at": "2026-11-28T11:00:00Z"}),
            _refused("Not http(s)", "url", "Enter an http:// or https:// URL."),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a webhook receiver (admin)",
        description="Its deliveries stay in the log; those not yet sent give up.",
        responses={204: None, 404: NO_RECEIVER},
    ),
)
@extend_schema(tags=["Alarm notifications"])
class WebhookReceiverViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsAdmin]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[0-9]+"
    queryset = WebhookReceiver.objects.prefetch_related("wells").order_by("name", "id")
    serializer_class = WebhookReceiverSerializer

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            receiver = body.save()
        return Response(WebhookReceiverCreatedSerializer(receiver).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()


@extend_schema(
    tags=["Alarm notifications"],
    summary="The notification delivery log, newest first (admin)",
    description="Every e-mail and webhook delivery with its outcome: `pending` (not attempted yet), `sending`, "
    "`sent`, `failed` (will be retried at `next_attempt_at`) or `gave_up`; the attempts, the last error and "
    "response code. Filter by `status`, `channel` and `alarm`; a bad filter is a 400 naming it.",
    parameters=[DeliveryFilterParams],
    responses={
        200: NotificationDeliverySerializer(many=True),
        400: _error('A filter is invalid; e.g. {"status": [""lost" is not a valid choice."]}.'),
    },
    examples=[_example("A webhook being retried", DELIVERY_EXAMPLE)],
)
class NotificationDeliveryListView(generics.ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = NotificationDeliverySerializer

    def get_queryset(self):
        params = DeliveryFilterParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = {
            lookup: params.validated_data[name]
            for name, lookup in (("status", "status"), ("channel", "channel"), ("alarm", "event__alarm_id"))
            if name in params.validated_data
        }
        return (
            NotificationDelivery.objects.filter(**filters)
            .select_related("event__alarm__well")
            .order_by("-created_at", "-id")
        )
