import datetime

import pytest
from django.utils import timezone

from analytics.models import DiagnosticResult
from telemetry.ingest import ReadingIn, ingest_readings
from tests.api_errors import named_errors
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db


def steady_readings(well_id, hours, flow, current, temp=95.0, vibration=1.5, per_hour=4):
    """Readings every 15 minutes over the last ``hours`` whole hours, all with the same values."""
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours - 1)
    return [
        ReadingIn(
            well_id=well_id,
            timestamp=start + datetime.timedelta(minutes=15 * i),
            flow_rate=flow,
            pip=1200.0,
            motor_current=current,
            motor_temp=temp,
            vibration=vibration,
        )
        for i in range(hours * per_hour)
        if start + datetime.timedelta(minutes=15 * i) <= timezone.now()
    ]


@pytest.fixture
def producing_well(well):
    ingest_readings(steady_readings(well.well_id, hours=30, flow=1000.0, current=47.0))
    return well


def test_it_returns_hourly_rows_in_the_original_shape(viewer_client, producing_well):
    response = viewer_client.get("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": 24})
    assert response.status_code == 200
    body = response.json()
    assert body["well_id"] == "WELL-001" and body["hours"] == 24
    assert body["count"] == len(body["data"]) == 24
    newest, oldest = body["data"][0], body["data"][-1]
    assert newest["bucket"] > oldest["bucket"]  # newest first, as the original platform
    assert newest["bucket"].endswith("Z")
    assert oldest["avg_flow_rate"] == 1000.0 and oldest["reading_count"] == 4


def test_it_answers_a_start_end_window_and_finer_buckets_from_raw(viewer_client, producing_well):
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - datetime.timedelta(hours=2)
    response = viewer_client.get(
        "/api/v1/analytics/telemetry/hourly/WELL-001",
        {"start": start.isoformat(), "end": end.isoformat(), "bucket": "15m"},
    )
    assert response.status_code == 200
    assert response.json()["count"] == 8
    assert response.json()["hours"] is None  # the window was start/end, not a number of hours
    assert {row["reading_count"] for row in response.json()["data"]} == {1}


def test_it_folds_hours_into_local_days(viewer_client, producing_well):
    body = viewer_client.get("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": 30, "bucket": "1d"}).json()
    stored = len(steady_readings("WELL-001", hours=30, flow=0, current=0))
    assert sum(row["reading_count"] for row in body["data"]) == stored
    assert 2 <= body["count"] <= 3  # 30 hours span two or three local days
    assert all(row["avg_flow_rate"] == pytest.approx(1000.0) for row in body["data"])


def test_it_returns_daily_rows_with_the_local_date(viewer_client, producing_well):
    body = viewer_client.get("/api/v1/analytics/telemetry/daily/WELL-001", {"days": 3}).json()
    assert body["days"] == 3
    assert 1 <= body["count"] <= 3
    row = body["data"][0]
    assert set(row) >= {"bucket", "local_date", "avg_flow_rate", "stddev_flow_rate", "uptime_fraction"}
    assert row["uptime_fraction"] == 1.0


def test_it_scores_performance_per_hour(viewer_client, producing_well):
    body = viewer_client.get("/api/v1/analytics/performance/WELL-001", {"hours": 6}).json()
    assert body["count"] == 6
    assert all(0 <= row["health_score"] <= 100 and 0 <= row["efficiency_score"] <= 100 for row in body["data"])


def test_it_summarizes_diagnostics_per_day_and_severity(viewer_client, well):
    now = timezone.now()
    findings = [("gas_lock", "critical", 2), ("gas_interference", "warning", 2), ("gas_lock", "critical", 1)]
    for kind, severity, seconds_ago in findings:  # the same condition in two runs' windows
        window_end = now - datetime.timedelta(seconds=seconds_ago)
        DiagnosticResult.objects.create(
            well=well,
            detected_at=window_end,
            window_start=window_end - datetime.timedelta(minutes=30),
            window_end=window_end,
            diagnostic_type=kind,
            severity=severity,
            confidence=0.9,
        )
    body = viewer_client.get("/api/v1/analytics/diagnostics/WELL-001").json()
    assert body["days"] == 7
    critical = body["data"][0]
    assert critical["severity"] == "critical"
    assert critical["issue_count"] == 2 and critical["unique_issues"] == 1 and critical["issue_types"] == ["gas_lock"]


def test_it_ranks_across_every_well_before_limiting(viewer_client):
    # Efficiency falls with the well number, while well IDs sort the other way round: a LIMIT taken
    # before sorting (the original platform's bug) would return the wrong three.
    flows = {f"RANK-{n:03d}": 1050.0 - 60 * n for n in range(12)}
    for well_id, flow in sorted(flows.items(), reverse=True):
        WellFactory(well_id=well_id)
        ingest_readings(steady_readings(well_id, hours=2, flow=flow, current=48.0))
    body = viewer_client.get("/api/v1/analytics/ranking/efficiency", {"limit": 3}).json()
    assert [row["well_id"] for row in body["ranking"]] == ["RANK-000", "RANK-001", "RANK-002"]
    assert [row["rank"] for row in body["ranking"]] == [1, 2, 3]
    worst = viewer_client.get("/api/v1/analytics/ranking/efficiency", {"limit": 2, "order": "asc"}).json()
    assert [row["well_id"] for row in worst["ranking"]] == ["RANK-011", "RANK-010"]


def test_it_ranks_by_health(viewer_client):
    for well_id, temp in [("HOT-001", 149.0), ("COOL-001", 90.0)]:
        WellFactory(well_id=well_id)
        ingest_readings(steady_readings(well_id, hours=1, flow=1000.0, current=48.0, temp=temp))
    body = viewer_client.get("/api/v1/analytics/ranking/health").json()
    assert [row["well_id"] for row in body["ranking"]] == ["COOL-001", "HOT-001"]


def test_the_overview_lists_active_wells_with_their_latest_scores(viewer_client):
    WellFactory(well_id="LIVE-001")
    WellFactory(well_id="SHUT-001", status="shut_in")
    for well_id in ("LIVE-001", "SHUT-001"):
        ingest_readings(steady_readings(well_id, hours=3, flow=1000.0, current=48.0))
    body = viewer_client.get("/api/v1/analytics/overview").json()
    assert [row["well_id"] for row in body["wells"]] == ["LIVE-001"]
    assert body["wells"][0]["bucket"] == timezone.now().replace(minute=0, second=0, microsecond=0).isoformat().replace(
        "+00:00", "Z"
    )


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": 0}, "hours"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": 8785}, "hours"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"hours": "many"}, "hours"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"bucket": "5m"}, "bucket"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"bucket": "15m", "hours": 24 * 8}, "bucket"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"start": "yesterday"}, "start"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", {"end": "2026-01-01T00:00:00Z"}, "start"),
        (
            "/api/v1/analytics/telemetry/hourly/WELL-001",
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "end",
        ),
        ("/api/v1/analytics/telemetry/daily/WELL-001", {"days": 3661}, "days"),
        ("/api/v1/analytics/diagnostics/WELL-001", {"days": -1}, "days"),
        ("/api/v1/analytics/ranking/efficiency", {"limit": 1001}, "limit"),
        ("/api/v1/analytics/ranking/health", {"order": "sideways"}, "order"),
    ],
)
def test_it_rejects_bad_parameters_naming_them(viewer_client, well, url, params, field):
    response = viewer_client.get(url, params)
    assert response.status_code == 400
    assert field in named_errors(response)


@pytest.mark.parametrize("path", ["telemetry/hourly", "telemetry/daily", "performance", "diagnostics"])
def test_it_answers_404_for_an_unknown_well(viewer_client, path):
    assert viewer_client.get(f"/api/v1/analytics/{path}/WELL-404").status_code == 404


def test_it_needs_a_signed_in_user(anonymous_client, well):
    assert anonymous_client.get("/api/v1/analytics/telemetry/hourly/WELL-001").status_code == 401
