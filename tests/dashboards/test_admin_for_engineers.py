"""The Django admin for engineers (dashboards/admin.py): the index's order, each well's pulse on the
well list, and the well page's last 24 h of motor current and flow with links to the dashboard and readings."""

import datetime
import json
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import users
from accounts.roles import Role
from alarms.lifecycle import raise_alarm
from analytics.models import DiagnosticResult, DiagnosticType, Severity
from analytics.rollups import refresh_rollups
from dashboards.admin import last_complete_hour
from telemetry.simulator.backfill import backfill
from tests.factories import TEST_PASSWORD, WellFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_session(db):
    """A browser signed in to the admin as a new user holding ``role`` (given as the admin gives it)."""

    def _admin_session(role):
        user = users.create_user(username=f"{role}_engineer", password=TEST_PASSWORD, role=Role[role.upper()])
        browser = Client()
        browser.force_login(user)
        return browser

    return _admin_session


def reporting_well(well_id, *, until_minutes_ago=5, alarm=True):
    """A well that reported every minute for the last three hours up to ``until_minutes_ago``, with an
    open alarm if ``alarm``."""
    well = WellFactory(well_id=well_id)
    now = timezone.now()
    backfill([well], now - datetime.timedelta(hours=3), now - datetime.timedelta(minutes=until_minutes_ago), seed=1)
    if alarm:
        raise_alarm(well, DiagnosticType.GAS_LOCK, Severity.CRITICAL, at=now, evidence={}, confidence=0.9)
    return well


def health_of(well, hour):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT health_score FROM well_performance_hourly WHERE well_id = %s AND bucket = %s", [well.pk, hour]
        )
        row = cursor.fetchone()
    return None if row is None else f"{row[0]:.0f}"


def row_of(page, well_id):
    """{list_display name: cell text} of the changelist row of ``well_id``."""
    row = next(row for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S) if f">{well_id}<" in row)
    cells = re.findall(r'<t[dh] class="field-([a-z_]+)[^"]*"[^>]*>(.*?)</t[dh]>', row, flags=re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in cells}


def test_it_lists_the_domain_first_then_users_then_the_plumbing(staff_client):
    labels = [app["app_label"] for app in staff_client.get("/admin/").context["app_list"]]
    assert labels[:2] == ["wells", "alarms"]
    assert labels[-4:] == ["auth", "accounts", "django_celery_beat", "token_blacklist"]


def test_it_orders_the_side_bar_and_shows_a_viewer_only_what_the_role_may_read(admin_session):
    viewer = admin_session("viewer")
    labels = [app["app_label"] for app in viewer.get("/admin/").context["app_list"]]
    assert labels[:2] == ["wells", "alarms"]
    assert not {"auth", "accounts", "django_celery_beat", "token_blacklist"} & set(labels)
    side_bar = [app["app_label"] for app in viewer.get("/admin/wells/well/").context["available_apps"]]
    assert side_bar == labels


@pytest.mark.django_db(transaction=True)  # on TimescaleDB the rollup refresh cannot run inside a transaction
def test_it_shows_each_wells_last_reading_health_and_open_alarms(admin_session):
    reporting = reporting_well("WELL-701")
    WellFactory(well_id="WELL-702")  # never reported
    refresh_rollups()
    hour_before = last_complete_hour(timezone.now())
    page = admin_session("viewer").get("/admin/wells/well/").content.decode()
    hour_after = last_complete_hour(timezone.now())

    cells = row_of(page, "WELL-701")
    minutes = int(re.fullmatch(r"(\d+) min ago", cells["last_reading_age"]).group(1))
    assert 5 <= minutes <= 15
    assert cells["health_last_hour"] in {health_of(reporting, hour_before), health_of(reporting, hour_after)}
    assert re.fullmatch(r"\d+", cells["health_last_hour"])
    assert cells["open_alarm_count"] == "1"

    silent = row_of(page, "WELL-702")
    assert silent["last_reading_age"] == "—"
    assert silent["health_last_hour"] == "—"
    assert silent["open_alarm_count"] == "0"


def test_it_sorts_the_well_list_by_last_reading_health_and_open_alarms(staff_client):
    reporting_well("WELL-711", until_minutes_ago=30, alarm=False)
    reporting_well("WELL-712", until_minutes_ago=2)
    WellFactory(well_id="WELL-713")
    columns = {"last reading": 5, "open alarms": 7}  # list_display positions, from 1 (0 is the checkbox)
    for column, expected in [("last reading", ["WELL-712", "WELL-711", "WELL-713"]), ("open alarms", ["WELL-712"])]:
        page = staff_client.get("/admin/wells/well/", {"o": columns[column]}).content.decode()
        order = re.findall(r">(WELL-71\d)<", page)
        assert order[: len(expected)] == expected, column
    assert staff_client.get("/admin/wells/well/", {"o": "6"}).status_code == 200  # health


def well_list_queries(browser):
    with CaptureQueriesContext(connection) as queries:
        page = browser.get("/admin/wells/well/").content.decode()
    return page, [query["sql"] for query in queries]


def test_it_reads_the_well_list_in_the_same_number_of_queries_however_many_wells(staff_client):
    for n in range(2):
        reporting_well(f"WELL-80{n}", alarm=n == 0)
    staff_client.get("/admin/wells/well/")  # the session and content types, read once
    page, with_two = well_list_queries(staff_client)
    assert page.count(">WELL-80") == 2
    for n in range(2, 10):
        reporting_well(f"WELL-80{n}", alarm=n % 2 == 0)
    page, with_ten = well_list_queries(staff_client)
    assert page.count(">WELL-80") == 10
    assert len(with_ten) == len(with_two)
    readings_counted = re.compile(r'COUNT\([^)]*\)[^()]* FROM "telemetry_reading"', re.IGNORECASE)
    assert not [sql for sql in with_ten if readings_counted.search(sql)]


def test_it_draws_the_last_24_hours_on_the_well_page_with_links(admin_session):
    well = reporting_well("WELL-721")
    browser = admin_session("operator")
    response = browser.get(f"/admin/wells/well/{well.pk}/change/")
    page = response.content.decode()

    assert 'id="well-charts"' in page and 'data-well-id="WELL-721"' in page
    assert 'data-chart="motor_current"' in page and 'data-chart="flow"' in page
    setup = json.loads(re.search(r'<script id="chart-setup" type="application/json">(.*?)</script>', page, re.S)[1])
    assert setup["src"] == "/wells/WELL-721/charts.json?range=24h"
    assert [chart["key"] for chart in setup["charts"]] == ["motor_current", "flow"]
    assert 'href="/wells/WELL-721/">Open in dashboard</a>' in page
    assert f'href="/admin/wells/well/{well.pk}/readings/">Readings</a>' in page
    assert re.search(r'<script src="/static/dashboards/vendor/uplot/uPlot\.iife\.min\.js" defer>', page)
    assert re.search(r'<script src="/static/dashboards/js/charts\.js" defer>', page)
    # Nothing inline would run under script-src 'self': every script has a src or is a JSON data block.
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "Open alarms" in page  # what the alarms app added is still there

    data = browser.get(setup["src"] + "&points=600")
    assert data.status_code == 200
    assert any(value is not None for value in data.json()["metrics"]["motor_current"]["avg"])


def test_it_shows_no_chart_on_the_add_page(staff_client):
    page = staff_client.get("/admin/wells/well/add/").content.decode()
    assert 'id="well-charts"' not in page and "charts.js" not in page


def test_it_shows_diagnostic_findings_read_only_third_on_the_index(client, db):
    well = WellFactory(well_id="WELL-731")
    finding = DiagnosticResult.objects.create(
        well=well,
        detected_at=timezone.now(),
        window_start=timezone.now(),
        window_end=timezone.now(),
        diagnostic_type="broken_shaft",
        severity="critical",
        confidence=0.85,
        evidence={"flow_bpd": 3.2},
    )
    client.force_login(User.objects.create_superuser("diag_reader", password="a-long-enough-password-1"))
    index = [app["app_label"] for app in client.get("/admin/").context["app_list"]]
    assert index[:3] == ["wells", "alarms", "analytics"]
    listing = client.get("/admin/analytics/diagnosticresult/", {"severity__exact": "critical"})
    assert listing.status_code == 200 and "WELL-731" in listing.content.decode()
    page = client.get(f"/admin/analytics/diagnosticresult/{finding.pk}/change/").content.decode()
    assert "flow_bpd" in page and 'name="_save"' not in page  # evidence shown, nothing to save
    assert client.get("/admin/analytics/diagnosticresult/add/").status_code == 403
