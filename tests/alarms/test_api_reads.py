"""Reading alarms through the API: filters, paging, detail with history, KPIs; bad input named."""

import datetime

import pytest
from django.utils import timezone

from alarms import lifecycle
from analytics.models import DiagnosticType
from tests.alarms.conftest import minutes, raise_gas_lock
from tests.api_errors import named_errors
from tests.config.openapi_responses import published_schema, response_problems
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def fleet_alarms(well, operator, now):
    """Four alarms on two wells in different states, raised an hour apart (oldest first)."""
    other = WellFactory(well_id="WELL-002")
    oldest = raise_gas_lock(well, at=now - minutes(240), severity="warning").alarm
    oldest.clear(operator, now=now - minutes(200))
    acknowledged = lifecycle.raise_alarm(well, DiagnosticType.OVERLOAD, "warning", at=now - minutes(180)).alarm
    acknowledged.acknowledge(operator, now=now - minutes(170))
    critical = raise_gas_lock(other, at=now - minutes(120)).alarm
    shelved = lifecycle.raise_alarm(other, DiagnosticType.HIGH_VIBRATION, "critical", at=now - minutes(60)).alarm
    shelved.shelve(operator, until=now + minutes(60), reason="Vibration probe being replaced.", now=now)
    return {"closed": oldest, "acknowledged": acknowledged, "critical": critical, "shelved": shelved}


def ids(response):
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def test_it_lists_alarms_newest_first_to_a_viewer(viewer_client, fleet_alarms):
    response = viewer_client.get("/api/v1/alarms/")
    expected = [fleet_alarms[key].pk for key in ("shelved", "critical", "acknowledged", "closed")]
    assert ids(response) == expected
    assert response.json()["count"] == 4
    first = response.json()["results"][0]
    assert (first["well_id"], first["alarm_type"], first["state"]) == ("WELL-002", "high_vibration", "shelved")
    assert first["shelved_by"] == "omar_operator"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "open"}, ["shelved", "critical", "acknowledged"]),
        ({"state": "closed"}, ["closed"]),
        ({"state": "active_acknowledged"}, ["acknowledged"]),
        ({"state": "active_unacknowledged"}, ["critical"]),
        ({"state": "shelved"}, ["shelved"]),
        ({"severity": "critical"}, ["shelved", "critical"]),
        ({"well": "WELL-001"}, ["acknowledged", "closed"]),
        ({"type": "gas_lock"}, ["critical", "closed"]),
        ({"well": "WELL-002", "type": "gas_lock", "state": "open"}, ["critical"]),
    ],
)
def test_it_filters_alarms(viewer_client, fleet_alarms, query, expected):
    assert ids(viewer_client.get("/api/v1/alarms/", query)) == [fleet_alarms[key].pk for key in expected]


def test_it_filters_alarms_raised_since_a_time(viewer_client, fleet_alarms, now):
    since = (now - minutes(150)).isoformat()
    assert ids(viewer_client.get("/api/v1/alarms/", {"since": since})) == [
        fleet_alarms["shelved"].pk,
        fleet_alarms["critical"].pk,
    ]


def test_it_pages_the_list(viewer_client, fleet_alarms):
    page = viewer_client.get("/api/v1/alarms/", {"page_size": 3}).json()
    assert (page["count"], len(page["results"])) == (4, 3)
    assert page["next"] is not None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"state": "sleeping"}, "state"),
        ({"severity": "info"}, "severity"),
        ({"type": "gremlins"}, "type"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_it_refuses_a_bad_filter_naming_it(viewer_client, query, parameter):
    response = viewer_client.get("/api/v1/alarms/", query)
    assert response.status_code == 400
    assert list(named_errors(response)) == [parameter]


def test_it_answers_404_naming_the_well_for_an_unknown_well(viewer_client, well):
    response = viewer_client.get("/api/v1/alarms/", {"well": "WELL-999"})
    assert response.status_code == 404
    assert named_errors(response) == {"well": ["No well with ID 'WELL-999'."]}


def test_it_shows_an_alarm_with_its_history(viewer_client, fleet_alarms):
    alarm = fleet_alarms["acknowledged"]
    body = viewer_client.get(f"/api/v1/alarms/{alarm.pk}").json()
    assert body["state"] == "active_acknowledged"
    assert body["acknowledged_by"] == "omar_operator"
    assert [(e["kind"], e["actor"]) for e in body["events"]] == [("raised", None), ("acknowledged", "omar_operator")]


def test_it_computes_kpis_for_a_viewer(viewer_client, fleet_alarms):
    response = viewer_client.get("/api/v1/alarms/kpis", {"days": 1})
    assert response.status_code == 200
    body = response.json()
    assert (body["days"], body["activations"], body["alarms_raised"]) == (1, 4, 4)
    assert body["acknowledged_share"] == 0.5  # acknowledged, and cleared
    assert body["top_alarms"][0]["activations"] == 1


@pytest.mark.parametrize("days", ["0", "91", "-3", "a week"])
def test_it_refuses_a_kpi_window_out_of_bounds_naming_days(viewer_client, days):
    response = viewer_client.get("/api/v1/alarms/kpis", {"days": days})
    assert response.status_code == 400
    assert list(named_errors(response)) == ["days"]


def test_it_lists_out_of_service_entries_to_a_viewer(viewer_client, admin_user, well, now):
    lifecycle.take_out_of_service(
        well=well, alarm_type="", reason="Workover.", until=now + datetime.timedelta(days=2), user=admin_user, now=now
    )
    body = viewer_client.get("/api/v1/alarms/out-of-service").json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert (entry["well_id"], entry["reason"], entry["created_by"], entry["in_force"]) == (
        "WELL-001",
        "Workover.",
        "ada_admin",
        True,
    )


def test_its_real_answers_match_the_published_schema(
    viewer_client, operator_client, admin_client_api, fleet_alarms, now
):
    schema = published_schema()
    shelved, critical = fleet_alarms["shelved"], fleet_alarms["critical"]
    entry = admin_client_api.post(
        "/api/v1/alarms/out-of-service", {"alarm_type": "overload", "reason": "Rule re-tuning."}, format="json"
    )
    calls = [
        ("GET", "/api/v1/alarms/", viewer_client.get("/api/v1/alarms/")),
        ("GET", "/api/v1/alarms/", viewer_client.get("/api/v1/alarms/", {"well": "WELL-999"})),
        ("GET", "/api/v1/alarms/", viewer_client.get("/api/v1/alarms/", {"state": "x"})),
        ("GET", "/api/v1/alarms/{id}", viewer_client.get(f"/api/v1/alarms/{shelved.pk}")),
        ("GET", "/api/v1/alarms/kpis", viewer_client.get("/api/v1/alarms/kpis", {"days": 1})),
        ("POST", "/api/v1/alarms/{id}/acknowledge", operator_client.post(f"/api/v1/alarms/{critical.pk}/acknowledge")),
        ("POST", "/api/v1/alarms/{id}/acknowledge", operator_client.post(f"/api/v1/alarms/{critical.pk}/acknowledge")),
        ("POST", "/api/v1/alarms/out-of-service", entry),
        ("GET", "/api/v1/alarms/out-of-service", viewer_client.get("/api/v1/alarms/out-of-service")),
    ]
    assert [response.status_code for _, _, response in calls] == [200, 404, 400, 200, 200, 200, 400, 201, 200]
    problems = [
        problem for method, path, response in calls for problem in response_problems(schema, method, path, response)
    ]
    assert problems == [], "\n".join(problems)
