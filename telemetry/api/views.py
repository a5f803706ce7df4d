"""HTTP ingestion: one reading or a batch, decoded and validated by ``telemetry.ingest`` (no DRF parsing).

The views stay DRF APIViews so that JWT authentication, the operator role and the OpenAPI schema apply
as everywhere else; they read ``request.body`` themselves and never touch ``request.data``.

Status codes: 201 stored, 200 duplicate (single reading only), 400 malformed body or invalid readings
(the body lists every problem of every bad reading by index and field; nothing is stored), 401 no/invalid token,
403 not an operator or admin, 413 body larger than the limit (checked before reading it),
415 not ``application/json``.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOperator
from config.errors import VALIDATION_ERROR, error_body
from config.parsers import JSONParser
from telemetry import metrics
from telemetry.api import docs
from telemetry.ingest import InvalidReadings, MalformedPayload, ingest_readings, parse_batch, parse_reading
from telemetry.query import utc_text

# A single reading is a few hundred bytes; anything near this is not one reading.
SINGLE_READING_MAX_BYTES = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def _json_body(request, max_bytes):
    """The raw body, after checking its content type (415) and declared size (413) without reading it."""
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        metrics.refused(metrics.HTTP, metrics.UNSUPPORTED_MEDIA_TYPE)
        raise exceptions.UnsupportedMediaType(media_type or "(none)")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.ParseError("Content-Length is not a number.") from None
    if declared > max_bytes:
        metrics.refused(metrics.HTTP, metrics.TOO_LARGE)
        raise PayloadTooLarge(f"The body is {declared} bytes; at most {max_bytes} are accepted. Split the batch.")
    return request.body


def _rejection(error):
    """The API's error body, with ingest's documented ``error_count`` and ``invalid_count`` added."""
    body = error_body(
        VALIDATION_ERROR,
        f"{error}.",
        error.errors,
        error_count=error.error_count,
        invalid_count=error.invalid_count,
    )
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


# 401 and 403 are documented for every operation, and 413/415 get the Error body, by config.schema.
_COMMON_RESPONSES = {
    400: OpenApiResponse(docs.TelemetryRejectionSerializer, description="Malformed body or invalid readings."),
    413: OpenApiResponse(description="Body larger than the limit."),
    415: OpenApiResponse(description="Content-Type is not application/json."),
}


class IngestView(APIView):
    """What both ingest endpoints share: who may call, the rate limit, and how a body becomes readings."""

    permission_classes = [IsOperator]
    rate_limit_scope = "ingest"  # accounts.rate_limits: sized for device fleets
    parser_classes = [JSONParser]  # for the schema's media type only; the body is decoded by telemetry.ingest

    def store(self, request, max_bytes, parse):
        """(readings, IngestResult, None) for the readings ``parse`` reads from the body, stored; or
        (readings, None, the 400 answer) when one is invalid. A body that can't be read is a ParseError."""
        body = _json_body(request, max_bytes)
        try:
            with metrics.timed(metrics.HTTP):
                readings = parse(body)
                result = ingest_readings(readings)
        except MalformedPayload as error:
            metrics.refused(metrics.HTTP, metrics.MALFORMED)
            raise exceptions.ParseError(str(error)) from None
        except InvalidReadings as error:
            metrics.refused_invalid(metrics.HTTP, error.errors, error.invalid_count)
            return None, None, _rejection(error)
        metrics.ingested(metrics.HTTP, result.received, result.inserted)
        return readings, result, None


@extend_schema(tags=["Telemetry"])
class IngestReadingView(IngestView):
    """Store one reading, as a pump controller sends it."""

    @extend_schema(
        summary="Ingest one reading (operator or admin)",
        description=(
            "Stores one reading. A reading for a (well, timestamp) already stored is a duplicate: 200, "
            "and the stored row is left unchanged."
        ),
        request=docs.TelemetryReadingSerializer,
        responses={
            201: OpenApiResponse(docs.TelemetryIngestedSerializer, description="Stored."),
            200: OpenApiResponse(docs.TelemetryIngestedSerializer, description="Duplicate; nothing changed."),
            **_COMMON_RESPONSES,
        },
        examples=docs.SINGLE_EXAMPLES,
    )
    def post(self, request):
        readings, result, rejection = self.store(request, SINGLE_READING_MAX_BYTES, lambda body: [parse_reading(body)])
        if rejection is not None:
            return rejection
        (reading,) = readings
        created = result.inserted == 1
        return Response(
            {
                "status": "created" if created else "duplicate",
                "well_id": reading.well_id,
                "timestamp": utc_text(reading.timestamp),
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["Telemetry"])
class IngestBatchView(IngestView):
    """Store a batch of readings, all or nothing."""

    @extend_schema(
        summary="Ingest a batch of readings (operator or admin)",
        description=(
            "Stores up to TELEMETRY_BATCH_MAX readings (10,000 by default) in one transaction. If any "
            "reading is invalid nothing is stored and the 400 response lists every bad reading by index "
            "and field (the first 100, with the total). Duplicates, against stored rows or within the batch, "
            "are counted and left unchanged."
        ),
        request=docs.TelemetryBatchSerializer,
        responses={
            201: OpenApiResponse(docs.TelemetryBatchIngestedSerializer, description="Stored."),
            **_COMMON_RESPONSES,
        },
        examples=docs.BATCH_EXAMPLES,
    )
    def post(self, request):
        _, result, rejection = self.store(
            request,
            settings.TELEMETRY_BATCH_MAX_BYTES,
            lambda body: parse_batch(body, max_readings=settings.TELEMETRY_BATCH_MAX),
        )
        if rejection is not None:
            return rejection
        return Response(
            {"received": result.received, "inserted": result.inserted, "duplicates": result.duplicates},
            status=status.HTTP_201_CREATED,
        )
