"""The diagnostics API: run the engine on one well now (operator+), and list what it found (viewer+)."""

import base64
import binascii

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOperator, IsViewer
from analytics.diagnostics.engine import run_well
from analytics.models import DiagnosticResult, DiagnosticType, Severity
from config.pagination import StrictPageSize
from config.params import QueryParams
from wells.models import Well

NOT_FOUND = OpenApiResponse(description="No well with that ID.")

FINDING_EXAMPLE = {
    "diagnostic_type": "broken_shaft",
    "severity": "critical",
    "confidence": 0.85,
    "detected_at": "2026-11-28T10:05:00Z",
    "evidence": {
        "flow_bpd": 21.4,
        "normal_flow_bpd": 1480.2,
        "current_a": 21.1,
        "normal_current_a": 53.9,
        "pip_psi": 1160.0,
        "normal_pip_psi": 812.5,
        "current_step_pct": 0.7,
    },
    "recommended_action": "Confirm with a rotation check at the drive; plan a pull, the pump cannot be fixed in place.",
}


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiagnosticResult
        fields = ["diagnostic_type", "severity", "confidence", "detected_at", "evidence", "recommended_action"]


class StoredFindingSerializer(FindingSerializer):
    well_id = serializers.CharField(source="well.well_id")

    class Meta(FindingSerializer.Meta):
        fields = ["id", "well_id", *FindingSerializer.Meta.fields, "window_start", "window_end"]


class DiagnosticRunSerializer(serializers.Serializer):
    well_id = serializers.CharField()
    ran_at = serializers.DateTimeField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    results = FindingSerializer(many=True)
    count = serializers.IntegerField()


@extend_schema(
    tags=["Diagnostics"],
    summary="Run the diagnostics on one well now (operator or admin)",
    description="Judges the well's last two hours of readings against its own week of hourly rollups and its "
    "pump specification, stores each finding once per window (running again within the same minute stores "
    "nothing new) and raises or updates alarms. A well that is not active gets no findings.",
    request=None,
    responses={200: DiagnosticRunSerializer, 404: NOT_FOUND},
    examples=[
        OpenApiExample(
            "A broken shaft",
            value={
                "well_id": "WELL-001",
                "ran_at": "2026-11-28T10:05:12Z",
                "window_start": "2026-11-28T08:05:00Z",
                "window_end": "2026-11-28T10:05:00Z",
                "results": [FINDING_EXAMPLE],
                "count": 1,
            },
            response_only=True,
        )
    ],
)
class RunDiagnosticsView(APIView):
    permission_classes = [IsOperator]

    def post(self, request, well_id):
        well = get_object_or_404(Well, well_id=well_id)
        run = run_well(well)
        body = {
            "well_id": well.well_id,
            "ran_at": run.ran_at,
            "window_start": run.window_start,
            "window_end": run.window_end,
            "results": [vars(finding) for finding in run.findings],
            "count": len(run.findings),
        }
        return Response(DiagnosticRunSerializer(body).data)


class FindingFilters(QueryParams):
    well_id = serializers.CharField(required=False, max_length=24, help_text="Only this well's findings.")
    type = serializers.ChoiceField(choices=DiagnosticType.values, required=False, help_text="Only this condition.")
    severity = serializers.ChoiceField(choices=Severity.values, required=False)
    start = serializers.DateTimeField(required=False, help_text="Detected at or after (ISO 8601).")
    end = serializers.DateTimeField(required=False, help_text="Detected before (ISO 8601).")

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        return attrs


class NewestFirst(StrictPageSize, CursorPagination):
    """Keyset pages, newest finding first: no COUNT, and pages stay stable while new findings arrive."""

    ordering = ("-detected_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        """DRF's, except that a cursor that is not strict base64 is refused (DRF drops the stray characters
        and reads what is left, often as "the first page")."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded:
            try:
                base64.b64decode(encoded.encode("ascii"), validate=True)
            except (UnicodeEncodeError, binascii.Error):
                raise NotFound(self.invalid_cursor_message) from None
        return super().decode_cursor(request)


@extend_schema(
    tags=["Diagnostics"],
    summary="List diagnostic findings",
    description="Newest first, in keyset pages (follow `next`). Filters combine.",
    parameters=[FindingFilters],
    responses={
        200: StoredFindingSerializer(many=True),
        400: OpenApiResponse(description="A filter is invalid; errors names it."),
        404: NOT_FOUND,
    },
    examples=[
        OpenApiExample(
            "A page of findings",
            value={
                "next": "https://esp.example.com/api/v1/diagnostics/?cursor=cD0yMDI2LTExLTI4",
                "previous": None,
                "results": [
                    {
                        "id": 4117,
                        "well_id": "WELL-001",
                        **FINDING_EXAMPLE,
                        "window_start": "2026-11-28T09:55:00Z",
                        "window_end": "2026-11-28T10:05:00Z",
                    }
                ],
            },
            response_only=True,
        )
    ],
)
class FindingListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = StoredFindingSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        wanted = FindingFilters.validated(self.request)
        findings = DiagnosticResult.objects.select_related("well")
        if "well_id" in wanted:
            findings = findings.filter(well=get_object_or_404(Well, well_id=wanted["well_id"]))
        if "type" in wanted:
            findings = findings.filter(diagnostic_type=wanted["type"])
        if "severity" in wanted:
            findings = findings.filter(severity=wanted["severity"])
        if "start" in wanted:
            findings = findings.filter(detected_at__gte=wanted["start"])
        if "end" in wanted:
            findings = findings.filter(detected_at__lt=wanted["end"])
        return findings
