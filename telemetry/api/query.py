"""Raw readings out over HTTP: keyset-paged JSON and a streamed CSV export. Viewer and above.

    GET /api/v1/telemetry/readings?well_id=WELL-001&start=…&end=…&fields=flow_rate,pip&limit=1000
    GET <the response's "next" URL> … until "next" is null
    GET /api/v1/telemetry/export.csv?well_id=WELL-001&start=…&end=…&fields=…

The window is ``[start, end)``, ISO 8601 (a time without a zone is UTC), by default the last 24 hours.
Every bad parameter answers 400 with the API's error body naming the parameter; an unknown well, 404.
The views parse and check the parameters, then hand over to ``telemetry.query``.

The export is an ordinary DRF view, so Bearer tokens and browser sessions both work; its errors are
JSON whatever the client says it accepts, and its body streams from a database cursor (see
``telemetry.query.export_csv``). It relies on a WSGI server: under ASGI Django would collect a sync
stream in memory before sending it.
"""

import datetime
import re
from urllib.parse import urlencode

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from config.errors import VALIDATION_ERROR, error_body, error_entry
from config.params import QueryParams
from telemetry import query
from telemetry.api.docs import TelemetryDetailSerializer
from telemetry.models import Reading
from wells.models import Well

DEFAULT_WINDOW = datetime.timedelta(hours=24)
METRICS = ", ".join(Reading.METRIC_FIELDS)


# --- Parameters ----------------------------------------------------------------------------------


class ReadingWindowParams(QueryParams):
    """Which well, which window, which metrics: shared by the page and the export."""

    well_id = serializers.CharField(help_text="Public well identifier, e.g. WELL-001.")
    start = serializers.DateTimeField(
        required=False,
        default_timezone=datetime.UTC,
        help_text="ISO 8601, inclusive, e.g. 2026-11-01T00:00:00Z (a time without a zone is UTC; "
        "percent-encode a + offset as %2B). Default: 24 hours before end.",
    )
    end = serializers.DateTimeField(
        required=False, default_timezone=datetime.UTC, help_text="ISO 8601, exclusive. Default: now."
    )
    fields = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"Comma-separated metrics, in the order wanted. Default: all of {METRICS}.",
    )

    def validate_fields(self, value):
        names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
        unknown = [name for name in names if name not in Reading.METRIC_FIELDS]
        if unknown:
            raise serializers.ValidationError(f"Unknown field(s): {', '.join(unknown)}. Choose from: {METRICS}.")
        return names

    def validate(self, attrs):
        attrs["fields"] = attrs.get("fields") or list(Reading.METRIC_FIELDS)
        if "end" not in attrs:
            attrs["end"] = timezone.now()
        if "start" not in attrs:
            try:
                attrs["start"] = attrs["end"] - DEFAULT_WINDOW
            except OverflowError:  # an end in the first days of year 1
                raise serializers.ValidationError({"end": "end is too early to have a default start."}) from None
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": "end must be after start (end defaults to now)."})
        return attrs


class ReadingPageParams(ReadingWindowParams):
    limit = serializers.IntegerField(
        default=query.PAGE_SIZE_DEFAULT,
        min_value=1,
        max_value=query.PAGE_SIZE_MAX,
        help_text=f"Readings per page, at most {query.PAGE_SIZE_MAX:,}.",
    )
    order = serializers.ChoiceField(
        choices=[query.ASCENDING, query.DESCENDING], default=query.ASCENDING, help_text="asc: oldest first."
    )
    cursor = serializers.CharField(
        required=False,
        help_text="Opaque token from the previous page's `next` link; follow `next` rather than build it.",
    )

    def validate_cursor(self, value):
        try:
            return query.Cursor.decode(value)
        except query.InvalidCursor as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs):
        attrs = super().validate(attrs)
        cursor = attrs.get("cursor")
        if cursor is not None and cursor.order != attrs["order"]:
            raise serializers.ValidationError({"cursor": f"This cursor continues order={cursor.order}."})
        return attrs


def _well(well_id):
    """The well named in the query; 404 naming it when there is none. One query."""
    well = Well.objects.filter(well_id=well_id).only("pk", "well_id").first()
    if well is None:
        raise NotFound(f"No well {well_id!r}.")
    return well


# --- OpenAPI -------------------------------------------------------------------------------------

ReadingRowsSchema = inline_serializer(
    "TelemetryReadingRow",
    {
        "time": serializers.DateTimeField(help_text="When the reading was taken, UTC."),
        **{
            name: serializers.FloatField(
                required=False,
                allow_null=True,
                help_text=f"{Reading._meta.get_field(name).verbose_name}, if asked for.",
            )
            for name in Reading.METRIC_FIELDS
        },
    },
    many=True,
)
ReadingPageSchema = inline_serializer(
    "TelemetryReadingPage",
    {
        "well_id": serializers.CharField(),
        "start": serializers.DateTimeField(help_text="The window's start (inclusive), UTC."),
        "end": serializers.DateTimeField(help_text="The window's end (exclusive), UTC."),
        "fields": serializers.ListField(child=serializers.ChoiceField(choices=Reading.METRIC_FIELDS)),
        "count": serializers.IntegerField(help_text="Readings on this page."),
        "next": serializers.URLField(allow_null=True, help_text="The next page; null on the last one."),
        "readings": ReadingRowsSchema,
    },
)

UNKNOWN_FIELD_EXAMPLE = "Unknown field(s): flow. Choose from: " + METRICS + "."
EMPTY_WINDOW_EXAMPLE = "end must be after start (end defaults to now)."
BAD_PARAMETER_EXAMPLES = [
    OpenApiExample(
        "Bad parameter",
        status_codes=["400"],
        response_only=True,
        value=error_body(
            VALIDATION_ERROR,
            f"fields: {UNKNOWN_FIELD_EXAMPLE}",
            [error_entry("fields", UNKNOWN_FIELD_EXAMPLE, "invalid")],
        ),
    ),
    OpenApiExample(
        "Empty window",
        status_codes=["400"],
        response_only=True,
        value=error_body(
            VALIDATION_ERROR, f"end: {EMPTY_WINDOW_EXAMPLE}", [error_entry("end", EMPTY_WINDOW_EXAMPLE, "invalid")]
        ),
    ),
]
# 400/401/403/404 and their error body are documented for every operation by config.schema.document_errors.
COMMON_RESPONSES = {
    400: OpenApiResponse(description="A bad parameter; errors names it."),
    404: OpenApiResponse(TelemetryDetailSerializer, description="No well with that well_id."),
}

PAGE_EXAMPLE = {
    "well_id": "WELL-001",
    "start": "2026-11-01T00:00:00Z",
    "end": "2026-11-02T00:00:00Z",
    "fields": ["flow_rate", "pip", "motor_current"],
    "count": 2,
    "next": "https://esp.example.com/api/v1/telemetry/readings?well_id=WELL-001&start=2026-11-01T00%3A00%3A00Z"
    "&end=2026-11-02T00%3A00%3A00Z&fields=flow_rate%2Cpip%2Cmotor_current&limit=2&order=asc"
    "&cursor=YXNjOjE3OTM0OTEyNjAwMDAwMDA",
    "readings": [
        {"time": "2026-11-01T00:00:00Z", "flow_rate": 1012.5, "pip": 812.0, "motor_current": 41.7},
        {"time": "2026-11-01T00:01:00Z", "flow_rate": 1010.9, "pip": 811.6, "motor_current": 41.6},
    ],
}
CSV_EXAMPLE = (
    "time_utc,flow_rate_bbl_d,pip_psi,motor_current_a,vibration_mm_s\r\n"
    "2026-11-01T00:00:00Z,1012.5,812,41.7,2.1\r\n"
    "2026-11-01T00:01:00Z,1010.9,811.6,41.6,\r\n"
)


# --- Views ---------------------------------------------------------------------------------------


@extend_schema(tags=["Telemetry"])
class ReadingPageView(APIView):
    """One page of a well's raw readings, and the link to the next."""

    permission_classes = [IsViewer]

    @extend_schema(
        summary="Raw readings of a well, paged (viewer and above)",
        description=(
            "One well's readings in [start, end), oldest first (or newest first with order=desc), "
            f"{query.PAGE_SIZE_DEFAULT:,} per page by default and at most {query.PAGE_SIZE_MAX:,}. Follow `next` "
            "until it is null: pages are cut by time (keyset), so readings stored meanwhile behind the cursor "
            "never make a page skip or repeat a reading. Each reading carries `time` (UTC) and the metrics "
            "asked for in `fields`; a metric the well did not report is null."
        ),
        operation_id="telemetry_readings_list",
        parameters=[ReadingPageParams],
        responses={200: ReadingPageSchema, **COMMON_RESPONSES},
        examples=[
            OpenApiExample("A page", value=PAGE_EXAMPLE, response_only=True, status_codes=["200"]),
            *BAD_PARAMETER_EXAMPLES,
        ],
    )
    def get(self, request):
        params = ReadingPageParams.validated(request)
        well = _well(params["well_id"])
        start, end, fields, order = params["start"], params["end"], params["fields"], params["order"]
        rows, next_cursor = query.read_page(
            well.pk, start, end, fields, limit=params["limit"], order=order, cursor=params.get("cursor")
        )
        next_url = None
        if next_cursor is not None:
            # The window is pinned in the link, so "the last 24 hours" does not slide while a client pages.
            next_query = {
                "well_id": well.well_id,
                "start": query.utc_text(start),
                "end": query.utc_text(end),
                "fields": ",".join(fields),
                "limit": params["limit"],
                "order": order,
                "cursor": next_cursor.encode(),
            }
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(next_query)}")
        return Response(
            {
                "well_id": well.well_id,
                "start": query.utc_text(start),
                "end": query.utc_text(end),
                "fields": fields,
                "count": len(rows),
                "next": next_url,
                "readings": rows,
            }
        )


class JSONWhateverAccepted(BaseContentNegotiation):
    """Render errors as JSON even when the client only accepts text/csv (or sends ?format=csv)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def export_filename(well, start, end):
    """WELL-001_2026-11-01_2026-11-02.csv: the well and the window's UTC dates."""
    name = f"{well.well_id}_{start.astimezone(datetime.UTC):%Y-%m-%d}_{end.astimezone(datetime.UTC):%Y-%m-%d}.csv"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@extend_schema(tags=["Telemetry"])
class ReadingExportView(APIView):
    """A well's raw readings as a streamed CSV attachment."""

    permission_classes = [IsViewer]
    renderer_classes = [JSONRenderer]  # for error bodies; the CSV itself is not rendered by DRF
    content_negotiation_class = JSONWhateverAccepted

    @extend_schema(
        summary="Export a well's raw readings as CSV (viewer and above)",
        description=(
            "Streams one well's readings in [start, end) as CSV, oldest first, as an attachment named "
            "`<well>_<start date>_<end date>.csv`. The header names carry the units (time_utc, flow_rate_bbl_d, "
            "pip_psi, casing_pressure_psi, tubing_pressure_psi, intake_pressure_psi, discharge_pressure_psi, "
            "motor_current_a, motor_temp_c, vibration_mm_s); a missing value is an empty cell. Any window up to "
            "the retention period: the server streams from a database cursor with flat memory. Works with a "
            "Bearer token or a signed-in browser session. Errors are JSON."
        ),
        operation_id="telemetry_export_csv",
        parameters=[ReadingWindowParams],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The readings as CSV, streamed."),
            **COMMON_RESPONSES,
        },
        examples=[
            OpenApiExample("CSV", value=CSV_EXAMPLE, media_type="text/csv", response_only=True, status_codes=["200"]),
            *BAD_PARAMETER_EXAMPLES,
        ],
    )
    def get(self, request):
        params = ReadingWindowParams.validated(request)
        well = _well(params["well_id"])
        start, end = params["start"], params["end"]
        response = StreamingHttpResponse(
            query.export_csv(well.pk, start, end, params["fields"]), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{export_filename(well, start, end)}"'
        response["Cache-Control"] = "no-store"
        return response
