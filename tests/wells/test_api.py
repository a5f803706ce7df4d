import pytest

from tests.api_errors import named_errors
from tests.factories import WellFactory
from wells.api.serializers import WELL_EXAMPLE
from wells.models import Well

pytestmark = pytest.mark.django_db

WELLS_URL = "/api/v1/wells/"


def test_it_lists_wells_with_pagination(viewer_client):
    WellFactory.create_batch(3)
    response = viewer_client.get(WELLS_URL, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None


@pytest.mark.parametrize("param", ["page", "page_size"])
def test_an_empty_page_or_page_size_is_refused_naming_it(viewer_client, param):
    response = viewer_client.get(WELLS_URL, {param: ""})
    assert response.status_code == 400
    assert param in named_errors(response)


def test_it_filters_by_status_and_field(viewer_client):
    WellFactory(well_id="WELL-201", field="Ghawar", status="active")
    WellFactory(well_id="WELL-202", field="Ghawar", status="shut_in")
    WellFactory(well_id="WELL-203", field="Safaniya", status="active")
    response = viewer_client.get(WELLS_URL, {"status": "active", "field": "ghawar"})
    assert [w["well_id"] for w in response.json()["results"]] == ["WELL-201"]


def test_it_rejects_an_unknown_status_filter(viewer_client):
    response = viewer_client.get(WELLS_URL, {"status": "exploded"})
    assert response.status_code == 400
    assert "status" in named_errors(response)


def test_it_retrieves_a_well_by_public_id(viewer_client, well):
    response = viewer_client.get(f"{WELLS_URL}WELL-001/")
    assert response.status_code == 200
    assert response.json()["name"] == "Ghawar North 1"


def test_it_answers_404_for_an_unknown_well(viewer_client):
    assert viewer_client.get(f"{WELLS_URL}WELL-999/").status_code == 404


def test_it_creates_a_well(operator_client):
    response = operator_client.post(WELLS_URL, WELL_EXAMPLE, format="json")
    assert response.status_code == 201, response.json()
    well = Well.objects.get(well_id="WELL-001")
    assert well.rated_flow_bpd == 1050.0
    assert well.timezone == "Asia/Riyadh"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"well_id": "well 1"}, "well_id"),
        ({"well_id": "WELL-1"}, "well_id"),
        ({"rated_flow_bpd": -5}, "rated_flow_bpd"),
        ({"min_operating_flow_bpd": 1500, "max_operating_flow_bpd": 900}, "min_operating_flow_bpd"),
        ({"status": "exploded"}, "status"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"latitude": 123}, "latitude"),
        ({"pump_stages": "many"}, "pump_stages"),
    ],
)
def test_it_rejects_invalid_well_input_naming_the_field(operator_client, change, field):
    response = operator_client.post(WELLS_URL, {**WELL_EXAMPLE, **change}, format="json")
    assert response.status_code == 400
    assert field in named_errors(response)
    assert not Well.objects.exists()


def test_it_rejects_a_duplicate_well_id(operator_client, well):
    response = operator_client.post(WELLS_URL, WELL_EXAMPLE, format="json")
    assert response.status_code == 400
    assert "well_id" in named_errors(response)


def test_it_checks_the_range_against_stored_values_on_patch(operator_client, well):
    response = operator_client.patch(f"{WELLS_URL}WELL-001/", {"max_operating_flow_bpd": 100}, format="json")
    assert response.status_code == 400
    well.refresh_from_db()
    assert well.max_operating_flow_bpd == 1350.0


def test_it_updates_a_well(operator_client, well):
    response = operator_client.patch(f"{WELLS_URL}WELL-001/", {"status": "maintenance"}, format="json")
    assert response.status_code == 200
    well.refresh_from_db()
    assert well.status == "maintenance"


def test_it_lets_only_admins_delete(operator_client, admin_client_api, well):
    assert operator_client.delete(f"{WELLS_URL}WELL-001/").status_code == 403
    assert admin_client_api.delete(f"{WELLS_URL}WELL-001/").status_code == 204
    assert not Well.objects.exists()


def test_it_keeps_viewers_read_only(viewer_client, well):
    assert viewer_client.post(WELLS_URL, {**WELL_EXAMPLE, "well_id": "WELL-777"}, format="json").status_code == 403
    assert viewer_client.patch(f"{WELLS_URL}WELL-001/", {"name": "x"}, format="json").status_code == 403


def test_it_refuses_anonymous_requests(anonymous_client):
    response = anonymous_client.get(WELLS_URL)
    assert response.status_code == 401


def test_it_rejects_an_empty_status_filter(viewer_client):
    response = viewer_client.get(WELLS_URL, {"status": ""})
    assert response.status_code == 400
    assert "status" in named_errors(response)


def test_it_searches_well_ids_and_names(viewer_client):
    WellFactory(well_id="WELL-201", name="Ghawar North 1")
    WellFactory(well_id="RYD-202", name="Safaniya 7")
    WellFactory(well_id="RYD-203", name="Abqaiq 2")
    by_name = viewer_client.get(WELLS_URL, {"search": "ghawar"}).json()["results"]
    by_id = viewer_client.get(WELLS_URL, {"search": "ryd-20"}).json()["results"]
    assert [w["well_id"] for w in by_name] == ["WELL-201"]
    assert [w["well_id"] for w in by_id] == ["RYD-202", "RYD-203"]
