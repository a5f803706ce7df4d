"""What the well, alarms and rankings pages tell the people who read them."""

import json
import re

import pytest

from alarms.models import AlarmState
from dashboards import charts
from tests.dashboards.seed import BROKEN_SHAFT_WELL, GAS_LOCK_WELL, HOT_MOTOR_WELL, SILENT_WELL

pytestmark = pytest.mark.django_db


def _page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_well_page_lists_the_newest_values_as_the_charts_text_alternative(signed_in, viewer, fleet):
    page = _page(signed_in(viewer), f"/wells/{GAS_LOCK_WELL}/")
    assert "Latest reading" in page and "Motor current" in page and "Pump intake pressure" in page
    labels = re.findall(r'class="chart-canvas" role="img" aria-label="([^"]+)"', page)
    assert len(labels) == len(charts.CHARTS)
    assert labels[0].startswith("Motor current (ammeter chart) over the last 24 h. Latest: Motor current ")
    assert re.search(r"Latest: Motor current [0-9.]+ A\.", labels[0])


def test_the_charts_are_set_up_from_a_json_block_not_a_script(signed_in, viewer, fleet):
    page = _page(signed_in(viewer), f"/wells/{GAS_LOCK_WELL}/?range=7d")
    block = re.search(r'<script id="chart-setup" type="application/json">(.*?)</script>', page, re.S)
    setup = json.loads(block.group(1))
    assert setup["src"] == f"/wells/{GAS_LOCK_WELL}/charts.json?range=7d"
    assert [chart["key"] for chart in setup["charts"]][0] == "motor_current"
    nameplate = setup["charts"][0]["references"][0]
    assert nameplate["value"] == fleet.wells[GAS_LOCK_WELL].motor_nameplate_current_a
    # Every other script is a file of this origin.
    assert re.findall(r"<script(?![^>]*application/json)[^>]*>", page) == [
        m for m in re.findall(r"<script[^>]*>", page) if "src=" in m
    ]


def test_the_well_page_places_the_operating_point_and_links_the_export(signed_in, viewer, fleet):
    page = _page(signed_in(viewer), f"/wells/{BROKEN_SHAFT_WELL}/?range=6h")
    assert "is below the recommended range 500–1,050 bbl/d, rated 800 bbl/d." in page
    export = re.search(r'href="(/api/v1/telemetry/export\.csv\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert f"well_id={BROKEN_SHAFT_WELL}" in export
    response = signed_in(viewer).get(export)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("time_utc,flow_rate_bbl_d") and 300 <= len(lines) - 1 <= 362


def test_the_well_page_shows_diagnostics_and_the_alarm_history(signed_in, operator, fleet):
    client = signed_in(operator)
    client.post(f"/alarms/{fleet.alarms[GAS_LOCK_WELL].pk}/acknowledge")
    page = _page(client, f"/wells/{GAS_LOCK_WELL}/")
    assert "Timeline of 2 diagnostic findings" in page and "Gas interference" in page
    assert "Active, acknowledged" in page and "acknowledged by omar_operator" in page


def test_a_well_that_never_reported_says_so(signed_in, viewer, fleet):
    from tests.factories import WellFactory

    WellFactory(well_id="NEW-001")
    page = _page(signed_in(viewer), "/wells/NEW-001/")
    assert "This well has not reported a reading." in page
    assert "No recent flow reading" in page


def test_an_unknown_well_is_a_404(signed_in, viewer, fleet):
    assert signed_in(viewer).get("/wells/NOPE-404/").status_code == 404


def test_the_alarms_page_filters_by_severity_and_well(signed_in, viewer, fleet):
    client = signed_in(viewer)
    critical = _page(client, "/alarms/?severity=critical").split('id="kpi-heading"')[0]
    assert GAS_LOCK_WELL in critical and BROKEN_SHAFT_WELL in critical and HOT_MOTOR_WELL not in critical
    one_well = _page(client, f"/alarms/?well={HOT_MOTOR_WELL.lower()}")
    assert "High motor temperature" in one_well and "1 matching" in one_well


def test_acknowledged_alarms_leave_the_needing_action_list(signed_in, operator, fleet):
    client = signed_in(operator)
    client.post(f"/alarms/{fleet.alarms[GAS_LOCK_WELL].pk}/acknowledge")
    needing = _page(client, "/alarms/?state=needing_action")
    assert "2 matching" in needing and f'data-alarm="{fleet.alarms[GAS_LOCK_WELL].pk}"' not in needing
    fleet.alarms[GAS_LOCK_WELL].refresh_from_db()
    assert fleet.alarms[GAS_LOCK_WELL].state == AlarmState.ACTIVE_ACKNOWLEDGED


def test_the_alarms_page_has_the_kpi_panel(signed_in, viewer, fleet):
    page = _page(signed_in(viewer), "/alarms/")
    assert "Alarm system, last 7 days" in page
    assert "within the target of &lt; 1" in page
    assert "Most frequent" in page


def test_rankings_sort_the_fleet_and_draw_each_trend(signed_in, viewer, fleet):
    client = signed_in(viewer)
    best = _page(client, "/rankings/")
    worst = _page(client, "/rankings/?score=efficiency&order=asc")
    ranked = re.findall(r'<th scope="row"><a href="/wells/([A-Z0-9-]+)/"', best)
    assert len(ranked) == 10 and SILENT_WELL not in ranked  # no score in the last hours
    assert ranked[-1] == BROKEN_SHAFT_WELL
    assert re.findall(r'<th scope="row"><a href="/wells/([A-Z0-9-]+)/"', worst)[0] == BROKEN_SHAFT_WELL
    assert re.search(r'class="sparkline" role="img" aria-label="\d+-day trend from \d+ to \d+', best)
    health = _page(client, "/rankings/?score=health&order=asc")
    assert "Health, worst first" in health


def test_a_stale_bookmark_with_unknown_choices_falls_back_to_the_defaults(signed_in, viewer, fleet):
    client = signed_in(viewer)
    ranked = re.compile(r'<th scope="row"><a href="/wells/([A-Z0-9-]+)/"')
    bookmarked, default = _page(client, "/rankings/?score=bogus&order=up"), _page(client, "/rankings/")
    assert ranked.findall(bookmarked) == ranked.findall(default)
    page = _page(client, f"/wells/{GAS_LOCK_WELL}/?range=2w")
    block = re.search(r'<script id="chart-setup" type="application/json">(.*?)</script>', page, re.S)
    assert json.loads(block.group(1))["src"] == f"/wells/{GAS_LOCK_WELL}/charts.json?range={charts.DEFAULT_RANGE}"
