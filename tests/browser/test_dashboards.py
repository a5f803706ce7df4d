"""The dashboards in real headless Chromium: sign-in, fleet, well charts, alarms by role, rankings, live
updates, the printed well report; axe-core on every page; screenshots of every page at 1400 and 800 px
under build/screenshots. Every test also fails on any console error, failed request, request to another
host or CSP violation (``PageWatch`` in conftest.py)."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from alarms.lifecycle import raise_alarm
from alarms.models import Alarm, AlarmState
from tests.browser.conftest import SCREENSHOTS, check_accessibility, screenshot, settle
from tests.dashboards.seed import BROKEN_SHAFT_WELL, GAS_LOCK_WELL, HOT_MOTOR_WELL

pytestmark = pytest.mark.django_db(transaction=True)

# The series colour of each chart's first line (#0b5cad), to tell a chart with data from empty axes.
COUNT_SERIES_PIXELS = """(key) => {
  const canvas = document.querySelector(`[data-chart="${key}"] canvas`);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
    if (Math.abs(r - 11) < 30 && Math.abs(g - 92) < 30 && Math.abs(b - 173) < 30) count++;
  }
  return count;
}"""


def _alarm_row(page, well_id):
    return page.locator("tr.alarm-row", has_text=well_id)


def test_a_viewer_signs_in_and_sees_the_seeded_fleet(open_page, seeded, viewer):
    page, watch = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    check_accessibility(page)
    screenshot(page, "sign-in")

    page.get_by_label("Username").fill("vera_viewer")
    page.get_by_label("Password").fill("not-the-password-0000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    check_accessibility(page)

    page.get_by_label("Password").fill("correct-horse-battery-staple-42")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    active = sorted(w for w, well in seeded.wells.items() if well.status == "active")
    expect(page.locator("table.data tbody tr")).to_have_count(len(active))
    for well_id in active:
        expect(page.get_by_role("link", name=well_id, exact=True)).to_be_visible()
    expect(page.locator(".card-alert")).to_contain_text("3 wells")
    assert page.locator("svg.map circle.marker").count() >= 5
    check_accessibility(page)
    screenshot(page, "fleet")

    page.get_by_label("Status").select_option("stale")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    expect(page.locator("table.data tbody")).to_contain_text("WELL-010")


def test_the_well_page_draws_every_chart_with_data(open_page, seeded, viewer):
    page, watch = open_page(viewer)
    page.get_by_role("link", name=GAS_LOCK_WELL, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(GAS_LOCK_WELL)
    charts = page.locator("#well-charts")
    expect(charts).to_have_attribute("data-state", "drawn")
    expect(charts.locator("figure canvas")).to_have_count(6)
    expect(charts.locator("[data-chart-message]:not(:empty)")).to_have_count(0)
    assert int(charts.get_attribute("data-points")) > 100
    for key in ("motor_current", "flow", "pip", "motor_temp", "vibration"):
        assert page.evaluate(COUNT_SERIES_PIXELS, key) > 50, f"the {key} chart has no line"
    # The text alternative: the newest values written out in the page.
    expect(page.locator("#well-latest")).to_contain_text("Motor current")
    expect(charts.locator(".chart-canvas").first).to_have_attribute("aria-label", re.compile(r"Latest: Motor current"))
    expect(page.locator(".operating-point")).to_contain_text("recommended range")
    check_accessibility(page)
    screenshot(page, "well")

    for label in ("7 d", "30 d", "1 y", "6 h"):
        page.get_by_role("navigation", name="Chart range").get_by_role("link", name=label, exact=True).click()
        expect(page.get_by_role("heading", name=f"Trends, last {label}")).to_be_visible()
        expect(page.locator("#well-charts")).to_have_attribute("data-state", "drawn")
    screenshot(page, "well-6h")


def test_the_well_report_prints_on_one_page(open_page, seeded, viewer):
    page, watch = open_page(viewer)
    page.goto(f"/wells/{BROKEN_SHAFT_WELL}/")
    expect(page.locator("#well-charts")).to_have_attribute("data-state", "drawn")
    page.emulate_media(media="print")
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = page.pdf(path=str(SCREENSHOTS / "well-report.pdf"), format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", report)) == 1
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, for a reviewer to look at
    settle(page)
    page.screenshot(path=str(SCREENSHOTS / "well-report.png"), full_page=True)


def test_an_operator_acknowledges_and_shelves_alarms_in_place(open_page, seeded, operator):
    page, watch = open_page(operator)
    page.goto("/alarms/")
    expect(page.locator("tr.alarm-row")).to_have_count(3)
    check_accessibility(page)
    screenshot(page, "alarms-operator")

    _alarm_row(page, GAS_LOCK_WELL).get_by_role("button", name=re.compile(r"^Acknowledge")).click()
    expect(page.get_by_role("status").first).to_contain_text(f"Gas lock on {GAS_LOCK_WELL} acknowledged.")
    expect(page).to_have_url(re.compile(r"/alarms/$"))
    expect(_alarm_row(page, GAS_LOCK_WELL)).to_contain_text("Active, acknowledged")
    expect(_alarm_row(page, GAS_LOCK_WELL).get_by_role("button", name=re.compile(r"^Acknowledge"))).to_have_count(0)

    hot = _alarm_row(page, HOT_MOTOR_WELL)
    hot.locator("summary").click()
    hot.get_by_label("Reason").fill("Temperature probe being replaced")
    hot.get_by_label("For").select_option("4")
    hot.get_by_role("button", name="Shelve", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("shelved for 4 h")
    expect(_alarm_row(page, HOT_MOTOR_WELL)).to_contain_text("Temperature probe being replaced")
    check_accessibility(page)

    # From the well page too: back on the well page afterwards.
    page.goto(f"/wells/{BROKEN_SHAFT_WELL}/")
    page.locator("#well-alarms").get_by_role("button", name=re.compile(r"^Acknowledge")).click()
    expect(page).to_have_url(re.compile(rf"/wells/{BROKEN_SHAFT_WELL}/$"))
    expect(page.locator("#well-alarms")).to_contain_text("Active, acknowledged")

    states = dict(Alarm.objects.values_list("well__well_id", "state"))
    assert states == {
        GAS_LOCK_WELL: AlarmState.ACTIVE_ACKNOWLEDGED,
        HOT_MOTOR_WELL: AlarmState.SHELVED,
        BROKEN_SHAFT_WELL: AlarmState.ACTIVE_ACKNOWLEDGED,
    }


def test_a_viewer_sees_no_action_and_is_refused_when_posting_anyway(open_page, seeded, viewer, live_server):
    page, watch = open_page(viewer)
    page.goto("/alarms/")
    expect(page.locator("tr.alarm-row")).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile(r"Acknowledge|Unshelve"))).to_have_count(0)
    expect(page.locator("details.shelve")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "alarms-viewer")
    page.goto(f"/wells/{GAS_LOCK_WELL}/")
    expect(page.locator("#well-alarms")).to_contain_text("Gas lock")
    expect(page.get_by_role("button", name=re.compile(r"Acknowledge"))).to_have_count(0)

    alarm = seeded.alarms[GAS_LOCK_WELL]
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    refused = page.request.post(
        f"/alarms/{alarm.pk}/acknowledge",
        form={"csrfmiddlewaretoken": token, "next": "/alarms/"},
        headers={"Referer": f"{live_server.url}/alarms/"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "needs the <strong>operator</strong> role" in refused.text()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKNOWLEDGED


def test_rankings_list_the_fleet_with_trends(open_page, seeded, viewer):
    page, watch = open_page(viewer)
    page.get_by_role("link", name="Rankings").click()
    expect(page.get_by_role("heading", name="Efficiency, best first")).to_be_visible()
    expect(page.locator("table.data tbody tr")).to_have_count(10)
    expect(page.locator("svg.sparkline")).to_have_count(10)
    check_accessibility(page)
    screenshot(page, "rankings")
    page.get_by_role("link", name="Health, worst first").click()
    expect(page.get_by_role("heading", name="Health, worst first")).to_be_visible()
    check_accessibility(page)


def test_pages_take_new_alarms_without_a_reload(open_page, seeded, viewer, settings):
    settings.DASHBOARD_LIVE_SECONDS = 1
    page, watch = open_page(viewer)
    page.goto("/")
    expect(page.locator(".card-alert")).to_contain_text("3 wells")
    page.evaluate("window.sameDocument = true")
    raise_alarm(seeded.wells["WELL-001"], "overload", "critical", at=timezone.now() - datetime.timedelta(minutes=1))
    expect(page.locator(".card-alert")).to_contain_text("4 wells")
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    assert page.evaluate("window.sameDocument") is True
