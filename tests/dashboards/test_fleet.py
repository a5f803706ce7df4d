"""The fleet overview: every active well's newest figures, totals, filters and sort, and the map."""

import datetime
import types

import pytest
from django.utils import timezone

from dashboards import fleet as fleet_reads
from dashboards.fleet_map import fleet_map
from tests.dashboards.seed import BROKEN_SHAFT_WELL, GAS_LOCK_WELL, HOT_MOTOR_WELL, SILENT_WELL

pytestmark = pytest.mark.django_db


def _rows_by_id(now=None):
    return {row.well_id: row for row in fleet_reads.fleet_rows(now or timezone.now())}


def _listed_wells(page):
    return [line.split('">')[1].split("<")[0] for line in page.split('<th scope="row"><a href="/wells/')[1:]]


def test_it_has_one_row_per_active_well_with_its_newest_reading(fleet):
    rows = _rows_by_id()
    assert len(rows) == 11 and "WELL-011" not in rows  # WELL-011 is in maintenance
    newest = rows["WELL-001"]
    assert newest.status == fleet_reads.PRODUCING
    assert newest.age_seconds < 120 and newest.flow_rate > 100 and newest.motor_current > 5
    assert newest.health is not None and newest.efficiency is not None and newest.flow_today is not None


def test_a_silent_well_is_stale_with_the_age_of_its_last_reading(fleet):
    silent = _rows_by_id()[SILENT_WELL]
    assert silent.status == fleet_reads.STALE
    assert datetime.timedelta(seconds=silent.age_seconds) > datetime.timedelta(days=2)
    assert silent.flow_rate is None


def test_a_running_pump_that_delivers_nothing_is_not_producing(fleet):
    broken = _rows_by_id()[BROKEN_SHAFT_WELL]
    assert broken.motor_current >= 5 and broken.flow_rate < 1
    assert broken.status == fleet_reads.NO_FLOW


def test_open_alarms_are_counted_by_severity_and_shelved_ones_apart(fleet, operator):
    fleet.alarms[GAS_LOCK_WELL].shelve(
        operator, until=timezone.now() + datetime.timedelta(hours=1), reason="crew on site", now=timezone.now()
    )
    rows = _rows_by_id()
    assert (rows[GAS_LOCK_WELL].critical, rows[GAS_LOCK_WELL].shelved) == (0, 1)
    assert (rows[BROKEN_SHAFT_WELL].critical, rows[HOT_MOTOR_WELL].warning) == (1, 1)
    totals = fleet_reads.fleet_totals(list(rows.values()))
    assert (totals.alarming, totals.critical_alarms, totals.warning_alarms) == (2, 1, 1)


def test_totals_count_producing_wells_and_their_flow_now(fleet):
    rows = list(_rows_by_id().values())
    totals = fleet_reads.fleet_totals(rows)
    producing = [row for row in rows if row.status == fleet_reads.PRODUCING]
    assert totals.wells == 11
    assert totals.producing == len(producing) and totals.not_reporting == 1
    assert totals.flow_now_bpd == pytest.approx(sum(row.flow_rate for row in producing))
    assert totals.producing + totals.down + totals.not_reporting == totals.wells


def test_the_page_shows_totals_map_and_every_row(signed_in, viewer, fleet):
    page = signed_in(viewer).get("/").content.decode()
    assert "Flow now" in page and "Alarming" in page
    assert '<svg viewBox="0 0 640 360" class="map" role="img"' in page
    assert page.count('class="marker ') >= 5
    assert len(_listed_wells(page)) == 11
    # Needs attention first: critical alarms (a pump delivering nothing before one that still does), the
    # warning, then the silent well.
    assert _listed_wells(page)[:4] == [BROKEN_SHAFT_WELL, GAS_LOCK_WELL, HOT_MOTOR_WELL, SILENT_WELL]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=stale", [SILENT_WELL]),
        ("alarms=critical", [BROKEN_SHAFT_WELL, GAS_LOCK_WELL]),
        ("field=Khurais&sort=well", ["WELL-007", "WELL-008"]),
        ("field=Khurais&sort=well&dir=desc", ["WELL-008", "WELL-007"]),
    ],
)
def test_it_filters_and_sorts(signed_in, viewer, fleet, query, expected):
    page = signed_in(viewer).get(f"/?{query}").content.decode()
    assert _listed_wells(page) == expected


def test_sorting_by_a_figure_puts_unknown_values_last_both_ways(signed_in, viewer, fleet):
    client = signed_in(viewer)
    descending = _listed_wells(client.get("/?sort=flow&dir=desc").content.decode())
    ascending = _listed_wells(client.get("/?sort=flow&dir=asc").content.decode())
    assert descending[0] == "WELL-012" and descending[-1] == SILENT_WELL
    assert ascending[-1] == SILENT_WELL


def test_nonsense_filters_fall_back_to_the_defaults(signed_in, viewer, fleet):
    response = signed_in(viewer).get("/?status=exploded&sort=nope&dir=sideways&page=-3")
    assert response.status_code == 200
    assert len(_listed_wells(response.content.decode())) == 11


def test_the_live_fragment_is_only_the_live_part(signed_in, viewer, fleet):
    response = signed_in(viewer).get("/?fragment=live&status=stale")
    body = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert "<html" not in body and "Flow now" in body
    assert _listed_wells(body) == [SILENT_WELL]


def _map_row(well_id, lat, lon, *, field="F", status="producing", critical=0, warning=0):
    return types.SimpleNamespace(
        well_id=well_id,
        name=well_id,
        field=field,
        latitude=lat,
        longitude=lon,
        status=status,
        critical=critical,
        warning=warning,
    )


def test_the_map_keeps_every_well_inside_the_drawing_north_up():
    north = _map_row("N-001", 26.0, 49.0)
    south = _map_row("S-001", 25.0, 49.0, critical=1)
    east = _map_row("E-001", 25.5, 50.0, status="stale")
    drawn = fleet_map([north, south, east, _map_row("X-001", None, None)])
    assert (drawn.placed, drawn.unplaced) == (3, 1)
    by_id = {marker.well_id: marker for marker in drawn.markers}
    assert by_id["N-001"].y < by_id["S-001"].y and by_id["E-001"].x > by_id["N-001"].x
    for marker in drawn.markers:
        assert 0 < marker.x < drawn.width and 0 < marker.y < drawn.height
    assert {state: count for state, _, count in drawn.counts} == {
        "critical": 1,
        "warning": 0,
        "not_reporting": 1,
        "down": 0,
        "producing": 1,
    }
    assert drawn.markers[-1].state == "critical"  # the worst is drawn on top


def test_wells_on_one_pad_share_a_marker_showing_the_worst_state():
    pad = [_map_row(f"P-{n:03d}", 25.0 + n * 1e-5, 49.0) for n in range(40)]
    pad[7].warning = 1
    drawn = fleet_map([*pad, _map_row("FAR-001", 27.0, 50.0)])
    shared = [marker for marker in drawn.markers if marker.count > 1]
    assert len(shared) == 1 and shared[0].count == 40 and shared[0].state == "warning"
    assert shared[0].well_id is None and "40 wells" in shared[0].label


def test_the_map_draws_each_marker_with_its_label_escaped():
    odd = _map_row("ODD-001", 25.0, 49.0)
    odd.name = '<b>"Tom & Jerry"</b>'
    drawn = fleet_map([odd, _map_row("FAR-001", 27.0, 50.0, critical=1)])
    svg = str(drawn.markers_svg)
    assert svg.count("<circle ") == 2 and 'class="marker marker-critical"' in svg
    assert "<title>ODD-001 &lt;b&gt;&quot;Tom &amp; Jerry&quot;&lt;/b&gt;: producing</title>" in svg
