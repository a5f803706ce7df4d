"""Hostile requests to every kind of endpoint answer a 4xx with a JSON body naming the problem; never a
500, and nothing is saved."""

import json

import pytest
from django.contrib.auth import get_user_model

from tests.accounts.auth_calls import LOGIN_URL, REFRESH_URL, USERS_URL
from tests.api_errors import named_errors
from wells.api.serializers import WELL_EXAMPLE
from wells.models import Well

pytestmark = pytest.mark.django_db

WELLS_URL = "/api/v1/wells/"
PER_WELL_ANALYTICS = [
    "/api/v1/analytics/telemetry/hourly/",
    "/api/v1/analytics/telemetry/daily/",
    "/api/v1/analytics/performance/",
    "/api/v1/analytics/diagnostics/",
]


def nested(depth):
    return "[" * depth + "]" * depth


def send_json(client, method, url, text):
    return client.generic(method, url, text.encode(), content_type="application/json")


@pytest.fixture
def clients(anonymous_client, operator_client, admin_client_api):
    return {"anonymous": anonymous_client, "operator": operator_client, "admin": admin_client_api}


# (who, method, url, field) for the endpoints whose body DRF parses; the body sets ``field``.
DRF_PARSED = [
    ("anonymous", "POST", LOGIN_URL, "username"),
    ("anonymous", "POST", REFRESH_URL, "refresh_token"),
    ("operator", "POST", WELLS_URL, "name"),
    ("operator", "PUT", f"{WELLS_URL}WELL-001/", "name"),
    ("admin", "POST", USERS_URL, "username"),
]


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize(("who", "method", "url", "field"), DRF_PARSED)
def test_json_nested_too_deeply_is_a_400(clients, who, method, url, field, depth):
    response = send_json(clients[who], method, url, f'{{"{field}": {nested(depth)}}}')
    assert response.status_code == 400, response.content[:300]
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize(("who", "method", "url", "field"), DRF_PARSED)
def test_an_unpaired_surrogate_in_a_string_is_a_400_naming_the_field(clients, who, method, url, field):
    response = send_json(clients[who], method, url, json.dumps({**WELL_EXAMPLE, field: "bad \ud800 text"}))
    assert response.status_code == 400, response.content[:300]
    assert named_errors(response)[field]  # DRF's CharField refuses it ("Surrogate characters are not allowed")


def test_nothing_is_saved_from_a_hostile_body(operator_client, admin_client_api):
    users = get_user_model().objects.count()
    send_json(operator_client, "POST", WELLS_URL, json.dumps({**WELL_EXAMPLE, "name": "\ud800"}))
    send_json(operator_client, "POST", WELLS_URL, f'{{"name": {nested(2_000)}}}')
    new_user = {"username": "nora\x00", "password": "pump-curve-drift-2718", "role": "viewer"}
    send_json(admin_client_api, "POST", USERS_URL, json.dumps(new_user))
    assert not Well.objects.exists()
    assert get_user_model().objects.count() == users


@pytest.mark.parametrize("parameter", ["search", "field", "status", "page"])
def test_nul_in_a_query_parameter_is_a_400_naming_it(viewer_client, parameter):
    response = viewer_client.get(f"{WELLS_URL}?{parameter}=WELL%00")
    assert response.status_code == 400, response.content[:300]
    assert named_errors(response) == {parameter: ["Must not contain NUL characters (%00)."]}


def test_nul_in_a_query_parameter_name_is_a_400_naming_it(viewer_client):
    response = viewer_client.get(f"{WELLS_URL}?sea%00rch=1")
    assert response.status_code == 400
    assert list(named_errors(response)) == ["sea\x00rch"]


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("prefix", PER_WELL_ANALYTICS)
def test_nul_in_a_path_is_a_400_naming_the_path(viewer_client, prefix):
    response = viewer_client.get(f"{prefix}WELL-001%00")
    assert response.status_code == 400, response.content[:300]
    assert "URL path" in response.json()["detail"]


def test_nul_in_a_telemetry_query_is_a_400(viewer_client, well):
    response = viewer_client.get("/api/v1/telemetry/readings?well_id=WELL-001%00")
    assert response.status_code == 400
    assert "well_id" in named_errors(response)


def test_nul_in_an_admin_search_is_a_400(staff_client):
    response = staff_client.get("/admin/wells/well/?q=%00")
    assert response.status_code == 400
    assert "q" in named_errors(response)


def test_an_ordinary_request_passes_the_guard(viewer_client, well):
    response = viewer_client.get(f"{WELLS_URL}?search=Ghawar&field=")
    assert response.status_code == 200
    assert response.json()["count"] == 1
