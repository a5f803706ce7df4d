"""The diagnostics engine against the real database: a week of simulated history, a fault at its end,
findings stored once per window, alarms told, and the API that runs and lists it."""

import datetime

import pytest
from django.utils import timezone

from analytics.diagnostics import engine
from analytics.diagnostics.signals import diagnostics_ran
from analytics.models import DiagnosticResult
from analytics.rollups import refresh_rollups
from telemetry.simulator.backfill import backfill
from telemetry.simulator.faults import FaultEpisode
from tests.api_errors import named_errors
from tests.factories import WellFactory
from wells.models import WellStatus

# Committed, because on TimescaleDB the rollup refresh cannot run inside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = datetime.timedelta(days=8)


def minute(moment):
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def now():
    return minute(timezone.now())


def well_with_history(now, well_id, fault=None, fault_minutes=40):
    """A well with a week of simulated 1-minute readings up to ``now``, ending in ``fault`` if given."""
    well = WellFactory(well_id=well_id, install_date=(now - HISTORY - datetime.timedelta(days=2)).date())
    faults = []
    if fault:
        faults.append(FaultEpisode(well_id, fault, now - datetime.timedelta(minutes=fault_minutes), HISTORY))
    backfill([well], now - HISTORY, now + datetime.timedelta(minutes=1), interval=60, faults=faults, seed=7)
    refresh_rollups()
    return well


@pytest.fixture
def broken_shaft_well(now):
    return well_with_history(now, "WELL-301", fault="broken_shaft")


@pytest.fixture
def healthy_well(now):
    return well_with_history(now, "WELL-302")


def test_it_finds_a_broken_shaft_with_its_evidence(broken_shaft_well, now):
    run = engine.run_well(broken_shaft_well, now)
    assert [f.diagnostic_type for f in run.findings] == ["broken_shaft"]
    stored = DiagnosticResult.objects.get(well=broken_shaft_well)
    assert stored.severity == "critical"
    assert stored.window_end == now
    assert stored.evidence["flow_bpd"] < 0.1 * stored.evidence["normal_flow_bpd"]
    assert stored.evidence["current_a"] < 0.6 * stored.evidence["normal_current_a"]
    assert "pull" in stored.recommended_action


def test_it_finds_nothing_on_a_healthy_well(healthy_well, now):
    assert engine.run_well(healthy_well, now).findings == []
    assert not DiagnosticResult.objects.exists()


def test_running_the_same_window_twice_stores_each_finding_once(broken_shaft_well, now):
    engine.run_well(broken_shaft_well, now)
    engine.run_well(broken_shaft_well, now + datetime.timedelta(seconds=30))  # a retry within the minute
    assert DiagnosticResult.objects.filter(well=broken_shaft_well).count() == 1


def test_a_well_that_is_not_active_gets_no_findings(broken_shaft_well, now):
    broken_shaft_well.status = WellStatus.MAINTENANCE
    broken_shaft_well.save()
    assert engine.run_well(broken_shaft_well, now).findings == []
    assert engine.run_fleet(now).wells == 0


def test_it_tells_the_alarms_what_it_found_and_what_it_judged(broken_shaft_well, now):
    heard = []

    def listen(sender, **kwargs):
        heard.append(kwargs)

    diagnostics_ran.connect(listen)
    try:
        engine.run_well(broken_shaft_well, now)
    finally:
        diagnostics_ran.disconnect(listen)
    (message,) = heard
    assert message["well"] == broken_shaft_well
    assert [f.diagnostic_type for f in message["findings"]] == ["broken_shaft"]
    assert {"broken_shaft", "gas_lock", "power_trip"} <= message["evaluated"]


def test_the_fleet_cycle_goes_on_past_a_well_whose_run_fails(broken_shaft_well, healthy_well, now, monkeypatch):
    real_diagnose = engine.diagnose

    def diagnose_with_a_bug(spec, *args):
        if spec.well_id == healthy_well.well_id:
            raise ZeroDivisionError("a bug nobody foresaw")
        return real_diagnose(spec, *args)

    monkeypatch.setattr(engine, "diagnose", diagnose_with_a_bug)
    outcome = engine.run_fleet(now, batch_size=1)
    assert (outcome.wells, outcome.failed_wells) == (1, 1)
    assert DiagnosticResult.objects.filter(well=broken_shaft_well, diagnostic_type="broken_shaft").exists()


def test_the_fleet_cycle_windows_end_on_the_beat_interval(broken_shaft_well, now, settings):
    engine.run_fleet(now)
    engine.run_fleet(now + datetime.timedelta(seconds=50))  # an overlapping run of the same cycle
    stored = DiagnosticResult.objects.get(well=broken_shaft_well)
    interval = settings.DIAGNOSTICS_INTERVAL
    assert stored.window_end.timestamp() % interval.total_seconds() == 0
    assert now - interval < stored.window_end <= now


# --- API ---------------------------------------------------------------------------------------------


def test_run_now_answers_the_findings_in_the_documented_shape(operator_client, broken_shaft_well):
    response = operator_client.post("/api/v1/diagnostics/run/WELL-301")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"well_id", "ran_at", "window_start", "window_end", "results", "count"}
    assert body["count"] == 1
    (finding,) = body["results"]
    assert set(finding) == {
        "diagnostic_type",
        "severity",
        "confidence",
        "detected_at",
        "evidence",
        "recommended_action",
    }
    assert finding["diagnostic_type"] == "broken_shaft" and 0 <= finding["confidence"] <= 1


def test_run_now_answers_404_for_an_unknown_well(operator_client, db):
    response = operator_client.post("/api/v1/diagnostics/run/WELL-404")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_viewers_cannot_run_the_diagnostics(viewer_client, broken_shaft_well):
    assert viewer_client.post("/api/v1/diagnostics/run/WELL-301").status_code == 403
    assert not DiagnosticResult.objects.exists()


def test_the_list_filters_by_well_type_severity_and_time(viewer_client, broken_shaft_well, healthy_well, now):
    engine.run_well(broken_shaft_well, now)
    engine.run_well(broken_shaft_well, now - datetime.timedelta(minutes=10))
    response = viewer_client.get("/api/v1/diagnostics/", {"well_id": "WELL-301", "type": "broken_shaft"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["window_end"] for r in results] == sorted((r["window_end"] for r in results), reverse=True)
    assert len(results) == 2 and {r["well_id"] for r in results} == {"WELL-301"}

    since = (now - datetime.timedelta(minutes=5)).isoformat()
    assert len(viewer_client.get("/api/v1/diagnostics/", {"start": since}).json()["results"]) == 1
    assert viewer_client.get("/api/v1/diagnostics/", {"well_id": "WELL-302"}).json()["results"] == []
    assert viewer_client.get("/api/v1/diagnostics/", {"severity": "info"}).json()["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "gremlins"}, "type"),
        ({"severity": "loud"}, "severity"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-11-28T10:00:00Z", "end": "2026-11-28T09:00:00Z"}, "end"),
    ],
)
def test_the_list_rejects_a_bad_filter_naming_it(viewer_client, db, params, field):
    response = viewer_client.get("/api/v1/diagnostics/", params)
    assert response.status_code == 400
    assert field in named_errors(response)


def test_the_list_answers_404_for_an_unknown_well(viewer_client, db):
    assert viewer_client.get("/api/v1/diagnostics/", {"well_id": "WELL-404"}).status_code == 404
