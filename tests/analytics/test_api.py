import datetime
import json

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

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


# Each well's newest hour as the hourly rollup scores it: what the overview and rankings must answer.
NEWEST_ROLLUP_HOUR = """
SELECT DISTINCT ON (p.well_id) w.well_id, p.bucket, p.efficiency_score, p.health_score, p.avg_flow_rate,
       p.avg_motor_current, p.avg_motor_temp, p.max_motor_temp, p.avg_vibration, p.reading_count
FROM well_performance_hourly p JOIN wells_well w ON w.id = p.well_id
ORDER BY p.well_id, p.bucket DESC
"""


def test_the_overview_and_rankings_answer_what_the_hourly_rollup_holds(viewer_client):
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for n, (flow, current, temp, vibration) in enumerate(
        [(1000.0, 48.0, 95.0, 1.5), (300.0, 20.0, None, 6.0), (2500.0, 80.0, 140.0, None), (0.0, 0.0, None, None)]
    ):
        well_id = f"MIX-{n:03d}"
        WellFactory(well_id=well_id)
        readings = steady_readings(well_id, hours=3, flow=flow, current=current, temp=temp, vibration=vibration)
        for k, one in enumerate(readings):  # varied values; the newest ones first, as a late backfill would
            one.flow_rate = flow * (1 + (k % 5) / 10)
            one.motor_temp = None if temp is None or k % 3 == 0 else temp + k
        ingest_readings(list(reversed(readings)))
    # A late reading in the hour before the newest changes neither.
    late = ReadingIn(well_id="MIX-000", timestamp=hour - datetime.timedelta(minutes=1), flow_rate=1.0, pip=1.0,
                     motor_current=1.0)  # fmt: skip
    ingest_readings([late])
    expected = {row[0]: row for row in fetch_all(NEWEST_ROLLUP_HOUR)}

    columns = ["well_id", "bucket", "efficiency_score", "health_score", "avg_flow_rate", "avg_motor_current",
               "avg_motor_temp", "max_motor_temp", "avg_vibration", "reading_count"]  # fmt: skip
    overview = viewer_client.get("/api/v1/analytics/overview").json()["wells"]
    assert [row["well_id"] for row in overview] == sorted(expected)
    for row in overview:
        want = dict(zip(columns, expected[row["well_id"]], strict=True))
        want["bucket"] = want["bucket"].isoformat().replace("+00:00", "Z")
        assert {key: row[key] for key in columns} == {
            key: pytest.approx(value) if isinstance(value, float) else value for key, value in want.items()
        }
    for score in ("efficiency", "health"):
        ranking = viewer_client.get(f"/api/v1/analytics/ranking/{score}", {"limit": 3, "order": "asc"}).json()
        index = columns.index(f"{score}_score")
        by_score = sorted(expected.values(), key=lambda row: (row[index], row[0]))[:3]
        assert [row["well_id"] for row in ranking["ranking"]] == [row[0] for row in by_score]


def test_the_overview_writes_the_json_drfs_renderer_would(viewer_client):
    WellFactory(well_id="ODD-001", name="Line\u2028separator, é, <b>")
    ingest_readings(steady_readings("ODD-001", hours=2, flow=1000.0, current=48.0, vibration=0.00001))
    response = viewer_client.get("/api/v1/analytics/overview")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == json.loads(JSONRenderer().render(response.data))
    assert b"\\u2028" in response.content and "é".encode() in response.content
    assert json.loads(response.content)["wells"][0]["bucket"].endswith(":00:00Z")


def fetch_all(query):
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


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
