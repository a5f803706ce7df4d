"""Serializers that only describe the ingest endpoints in the OpenAPI schema.

The endpoints never run them: bodies are decoded and validated by ``telemetry.ingest`` (msgspec), which
is some 70 times faster per reading than a DRF serializer. The metrics' ranges and units come from
``telemetry.metrics_catalogue``, as ingest's do; the other fields follow ``ReadingIn``.
"""

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from config.errors import VALIDATION_ERROR, error_body
from telemetry.ingest import MAX_FUTURE, MAX_REPORTED_ERRORS
from telemetry.metrics_catalogue import METRICS


def _metric_field(metric):
    return serializers.FloatField(
        min_value=metric.lowest,
        max_value=metric.highest,
        required=metric.required,
        allow_null=not metric.required,
        help_text=f"{metric.description}, {metric.unit}.",
    )


# One reading: well and time, then a field per metric of the catalogue, so the documented ranges are
# the ones ingest enforces.
TelemetryReadingSerializer = type(
    "TelemetryReadingSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "well_id": serializers.CharField(help_text="Public well identifier, e.g. WELL-001."),
        "timestamp": serializers.DateTimeField(
            help_text="RFC 3339 with a time zone (Z or an offset); stored as UTC. At most "
            f"{MAX_FUTURE.seconds // 60} minutes ahead of the server clock, not before the well's install date, "
            "not older than the retention window."
        ),
        **{metric.field: _metric_field(metric) for metric in METRICS},
    },
)


class TelemetryBatchSerializer(serializers.Serializer):
    readings = TelemetryReadingSerializer(
        many=True, help_text="Up to TELEMETRY_BATCH_MAX readings (10,000 by default), any wells, any order."
    )


class TelemetryIngestedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "duplicate"])
    well_id = serializers.CharField()
    timestamp = serializers.DateTimeField(help_text="The reading's time in UTC.")


class TelemetryBatchIngestedSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Readings in the batch.")
    inserted = serializers.IntegerField(help_text="Readings stored by this request.")
    duplicates = serializers.IntegerField(
        help_text="Readings whose (well, timestamp) was already stored or repeated in the batch; left unchanged."
    )


class TelemetryReadingErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        required=False, help_text="Position of the reading in the batch (0 for the single endpoint)."
    )
    field = serializers.CharField(allow_null=True, help_text="The offending field; null when the reading itself.")
    message = serializers.CharField()
    code = serializers.CharField(help_text="A stable code for programs: required, invalid_type, min_value, …")


class TelemetryRejectionSerializer(serializers.Serializer):
    """The API's Error body (config/errors.py) with ingest's two counts added."""

    type = serializers.CharField(help_text="validation_error for invalid readings, parse_error for a malformed body.")
    detail = serializers.CharField()
    errors = TelemetryReadingErrorSerializer(
        many=True,
        help_text=f"The first {MAX_REPORTED_ERRORS} errors, in reading order, every problem of each reading; "
        "empty for a malformed body.",
    )
    error_count = serializers.IntegerField(required=False, help_text="All errors, including those not listed.")
    invalid_count = serializers.IntegerField(required=False, help_text="Readings with at least one error.")


class TelemetryDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


READING_EXAMPLE = {
    "well_id": "WELL-001",
    "timestamp": "2025-06-01T08:30:00Z",
    "flow_rate": 1012.5,
    "pip": 812.0,
    "casing_pressure": 155.2,
    "tubing_pressure": 240.8,
    "intake_pressure": 815.1,
    "discharge_pressure": 2950.0,
    "motor_current": 41.7,
    "motor_temp": 118.4,
    "vibration": 2.1,
}

REJECTION_EXAMPLE = OpenApiExample(
    "Invalid readings",
    status_codes=["400"],
    response_only=True,
    value=error_body(
        VALIDATION_ERROR,
        "2 invalid reading(s), 3 error(s); nothing was stored.",
        [
            {"index": 0, "field": "well_id", "message": "unknown well 'WELL-999'", "code": "unknown_well"},
            {"index": 0, "field": "motor_current", "message": "must not be negative, got -2.0 A", "code": "min_value"},
            {"index": 3, "field": "pip", "message": "must be a finite number, got nan", "code": "not_finite"},
        ],
        error_count=3,
        invalid_count=2,
    ),
)
MALFORMED_EXAMPLE = OpenApiExample(
    "Malformed JSON",
    status_codes=["400"],
    response_only=True,
    value=error_body("parse_error", "Malformed JSON: Expecting ',' delimiter at line 1 column 42."),
)

SINGLE_EXAMPLES = [
    OpenApiExample("One reading", value=READING_EXAMPLE, request_only=True),
    OpenApiExample(
        "Stored",
        status_codes=["201"],
        response_only=True,
        value={"status": "created", "well_id": "WELL-001", "timestamp": "2025-06-01T08:30:00Z"},
    ),
    OpenApiExample(
        "Already stored",
        status_codes=["200"],
        response_only=True,
        value={"status": "duplicate", "well_id": "WELL-001", "timestamp": "2025-06-01T08:30:00Z"},
    ),
    REJECTION_EXAMPLE,
    MALFORMED_EXAMPLE,
]

BATCH_EXAMPLES = [
    OpenApiExample(
        "Two readings",
        value={
            "readings": [
                READING_EXAMPLE,
                {
                    "well_id": "WELL-002",
                    "timestamp": "2025-06-01T11:30:00+03:00",
                    "flow_rate": 640.0,
                    "pip": 455.0,
                    "motor_current": 33.2,
                },
            ]
        },
        request_only=True,
    ),
    OpenApiExample(
        "Stored",
        status_codes=["201"],
        response_only=True,
        value={"received": 2, "inserted": 1, "duplicates": 1},
    ),
    REJECTION_EXAMPLE,
    MALFORMED_EXAMPLE,
]
