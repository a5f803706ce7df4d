"""The analytics API: rollups per well, fleet overview and rankings. Viewer and above.

Paths and response shapes are the original platform's (``{"well_id", "hours", "data", "count"}``
and so on); ``start``/``end``/``bucket`` were added. Rows are plain dicts from SQL
(``analytics.queries``).
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from analytics import queries
from analytics.api.params import (
    DaysWindowParams,
    DiagnosticDaysParams,
    HourlyParams,
    HoursWindowParams,
    OverviewParams,
    RankingParams,
)
from analytics.api.renderers import PlainRowsJSONRenderer
from wells.models import Well

NOT_FOUND = OpenApiResponse(description="No well with that ID.")
BAD_PARAMS = OpenApiResponse(description="A parameter is out of bounds; errors names it.")


def _envelope(name, window_key, **echoed):
    """The response schema shared by the per-well endpoints; ``data`` rows are the rollup's columns."""
    return inline_serializer(
        name,
        {
            "well_id": serializers.CharField(),
            window_key: serializers.IntegerField(
                allow_null=True, help_text=f"The {window_key} asked for; null when the window was given as start/end."
            ),
            **echoed,
            "start": serializers.DateTimeField(),
            "end": serializers.DateTimeField(),
            "data": serializers.ListField(child=serializers.DictField()),
            "count": serializers.IntegerField(),
        },
    )


HOURLY_EXAMPLE = {
    "well_id": "WELL-001",
    "hours": 24,
    "bucket": "1h",
    "start": "2026-11-27T11:00:00Z",
    "end": "2026-11-28T11:00:00Z",
    "data": [
        {
            "bucket": "2026-11-28T10:00:00Z",
            "avg_flow_rate": 1012.4,
            "max_flow_rate": 1040.2,
            "min_flow_rate": 987.1,
            "avg_pip": 1180.5,
            "avg_casing_pressure": 210.3,
            "avg_tubing_pressure": 480.9,
            "avg_motor_current": 47.2,
            "avg_motor_temp": 96.4,
            "max_motor_temp": 98.0,
            "avg_intake_pressure": 1175.0,
            "avg_discharge_pressure": 3320.7,
            "avg_vibration": 1.8,
            "reading_count": 60,
            "first_reading": "2026-11-28T10:00:00Z",
            "last_reading": "2026-11-28T10:59:00Z",
        }
    ],
    "count": 1,
}


DAILY_EXAMPLE = {
    "well_id": "WELL-001",
    "days": 30,
    "start": "2026-10-29T21:00:00Z",
    "end": "2026-11-28T21:00:00Z",
    "data": [
        {
            "bucket": "2026-11-27T21:00:00Z",
            "local_date": "2026-11-28",
            "avg_flow_rate": 1008.2,
            "stddev_flow_rate": 14.6,
            "avg_pip": 1182.0,
            "avg_motor_current": 47.1,
            "max_motor_current": 49.8,
            "avg_motor_temp": 96.0,
            "max_motor_temp": 101.3,
            "avg_vibration": 1.7,
            "max_vibration": 2.4,
            "reading_count": 1440,
            "uptime_fraction": 1.0,
        }
    ],
    "count": 1,
}

PERFORMANCE_EXAMPLE = {
    "well_id": "WELL-001",
    "hours": 24,
    "start": "2026-11-27T11:00:00Z",
    "end": "2026-11-28T11:00:00Z",
    "data": [
        {
            "bucket": "2026-11-28T10:00:00Z",
            "efficiency_score": 96.9,
            "health_score": 98.1,
            "avg_flow_rate": 1012.4,
            "avg_motor_current": 47.2,
            "avg_motor_temp": 96.4,
            "max_motor_temp": 98.0,
            "avg_vibration": 1.8,
            "reading_count": 60,
        }
    ],
    "count": 1,
}

DIAGNOSTICS_EXAMPLE = {
    "well_id": "WELL-003",
    "days": 7,
    "start": "2026-11-21T21:00:00Z",
    "end": "2026-11-28T21:00:00Z",
    "data": [
        {
            "bucket": "2026-11-27T21:00:00Z",
            "local_date": "2026-11-28",
            "severity": "critical",
            "issue_count": 3,
            "unique_issues": 1,
            "issue_types": ["gas_lock"],
        }
    ],
    "count": 1,
}

# A well's newest scored hour, as the overview and rankings list it.
_LATEST_ROW = {"well_id": "WELL-001", "name": "Ghawar North 1", "field": "Ghawar", "status": "active",
               **PERFORMANCE_EXAMPLE["data"][0]}  # fmt: skip
OVERVIEW_EXAMPLE = {"wells": [_LATEST_ROW], "count": 1}
RANKING_EXAMPLE = {"score": "efficiency", "order": "desc", "ranking": [{**_LATEST_ROW, "rank": 1}], "count": 1}


def _example(title, value):
    return [OpenApiExample(title, value=value, response_only=True)]


class WellWindowView(APIView):
    """A GET of one well's rows over a window of buckets; subclasses name the params and the read."""

    permission_classes = [IsViewer]
    params_class = HoursWindowParams
    echoed_params = ("hours",)  # repeated in the response, as the original platform did

    def read(self, well, params):
        raise NotImplementedError

    def get(self, request, well_id):
        params = self.params_class.validated(request)
        well = get_object_or_404(Well, well_id=well_id)
        rows = self.read(well, params)
        body = {"well_id": well.well_id, **{key: params[key] for key in self.echoed_params}}
        body.update({"start": params["start"], "end": params["end"], "data": rows, "count": len(rows)})
        return Response(body)


@extend_schema(
    summary="Hourly telemetry of a well",
    description="From the hourly rollup (real time). `bucket=15m` computes from raw readings (windows up to "
    "7 days); `bucket=1d` folds hours into local days of ANALYTICS_TIMEZONE. Newest bucket first.",
    tags=["Analytics"],
    parameters=[HourlyParams],
    responses={
        200: _envelope("HourlyTelemetry", "hours", bucket=serializers.ChoiceField(choices=["15m", "1h", "1d"])),
        400: BAD_PARAMS,
        404: NOT_FOUND,
    },
    examples=_example("Last hours of a well", HOURLY_EXAMPLE),
)
class HourlyTelemetryView(WellWindowView):
    params_class = HourlyParams
    echoed_params = ("hours", "bucket")

    def read(self, well, params):
        return queries.hourly_telemetry(well, params["start"], params["end"], params["bucket"])


@extend_schema(
    summary="Daily telemetry of a well",
    description="One row per local day in ANALYTICS_TIMEZONE (`local_date`; `bucket` is that day's start in UTC), "
    "with the flow's standard deviation and the uptime fraction (share of readings with the motor running).",
    tags=["Analytics"],
    parameters=[DaysWindowParams],
    responses={200: _envelope("DailyTelemetry", "days"), 400: BAD_PARAMS, 404: NOT_FOUND},
    examples=_example("Last days of a well", DAILY_EXAMPLE),
)
class DailyTelemetryView(WellWindowView):
    params_class = DaysWindowParams
    echoed_params = ("days",)

    def read(self, well, params):
        return queries.daily_telemetry(well, params["start"], params["end"])


@extend_schema(
    summary="Hourly efficiency and health scores of a well",
    description="Scores 0–100 per hour from the well's own pump specification (see analytics/scoring.py).",
    tags=["Analytics"],
    parameters=[HoursWindowParams],
    responses={200: _envelope("WellPerformance", "hours"), 400: BAD_PARAMS, 404: NOT_FOUND},
    examples=_example("Scored hours of a well", PERFORMANCE_EXAMPLE),
)
class PerformanceView(WellWindowView):
    def read(self, well, params):
        return queries.well_performance(well, params["start"], params["end"])


@extend_schema(
    summary="Daily diagnostic summary of a well",
    description="Per local day and severity: how many findings and of which types.",
    tags=["Analytics"],
    parameters=[DiagnosticDaysParams],
    responses={200: _envelope("DiagnosticSummary", "days"), 400: BAD_PARAMS, 404: NOT_FOUND},
    examples=_example("A day with gas lock", DIAGNOSTICS_EXAMPLE),
)
class DiagnosticSummaryView(WellWindowView):
    params_class = DiagnosticDaysParams
    echoed_params = ("days",)

    def read(self, well, params):
        return queries.diagnostic_summary(well, params["start"], params["end"])


@extend_schema(
    summary="Fleet overview: latest scores of every active well",
    description="Each active well's newest hour (the hour in progress included) with its scores and averages, "
    "as the hourly rollup has them; `hours` leaves out wells whose newest hour is older.",
    tags=["Analytics"],
    parameters=[OverviewParams],
    responses={
        200: inline_serializer(
            "FleetOverview",
            {"wells": serializers.ListField(child=serializers.DictField()), "count": serializers.IntegerField()},
        ),
        400: BAD_PARAMS,
    },
    examples=_example("The fleet", OVERVIEW_EXAMPLE),
)
class OverviewView(APIView):
    permission_classes = [IsViewer]
    renderer_classes = [PlainRowsJSONRenderer]  # one row per well: thousands of rows

    def get(self, request):
        since = timezone.now() - timezone.timedelta(hours=OverviewParams.validated(request)["hours"])
        wells = queries.fleet_overview(since)
        return Response({"wells": wells, "count": len(wells)})


class RankingView(APIView):
    """Wells ranked by their latest score, sorted across the whole fleet and then limited."""

    permission_classes = [IsViewer]
    renderer_classes = [PlainRowsJSONRenderer]  # up to 1,000 rows
    score = None

    def get(self, request):
        values = RankingParams.validated(request)
        since = timezone.now() - timezone.timedelta(hours=values["hours"])
        ranked = queries.ranking(self.score, values["order"], values["limit"], since)
        for position, row in enumerate(ranked, start=1):
            row["rank"] = position
        return Response({"score": self.score, "order": values["order"], "ranking": ranked, "count": len(ranked)})


_RANKING_RESPONSE = inline_serializer(
    "Ranking",
    {
        "score": serializers.CharField(),
        "order": serializers.CharField(),
        "ranking": serializers.ListField(child=serializers.DictField()),
        "count": serializers.IntegerField(),
    },
)


@extend_schema(
    summary="Wells ranked by efficiency",
    tags=["Analytics"],
    parameters=[RankingParams],
    responses={200: _RANKING_RESPONSE, 400: BAD_PARAMS},
    examples=_example("Most efficient first", RANKING_EXAMPLE),
)
class EfficiencyRankingView(RankingView):
    score = "efficiency"


@extend_schema(
    summary="Wells ranked by health",
    tags=["Analytics"],
    parameters=[RankingParams],
    responses={200: _RANKING_RESPONSE, 400: BAD_PARAMS},
    examples=_example("Healthiest first", {**RANKING_EXAMPLE, "score": "health"}),
)
class HealthRankingView(RankingView):
    score = "health"
