"""Every error answer of the API has one shape: {"type", "detail", "errors": [{"field", "message", "code"}]}.

The oracle walks every operation of the published schema with a bad request of each kind that applies
(no token, a user without the role, a malformed body, a bad query parameter, a path naming nothing) and
checks every 4xx it gets: its body's shape, that the schema documents the status, and for 403 that
required_roles names the roles that may.
"""

import json

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from config.errors import ERROR_TYPES, server_error
from tests.accounts.auth_calls import bearer, login
from tests.config.openapi_responses import operations, published_schema, response_problems
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLE_NAMES = [role.group_name for role in Role]
NOTHING = "0"  # a path parameter naming nothing: no well, user or alarm has it
# A value no typed query parameter takes: not a number, a date, a boolean or one of any choices.
BAD_VALUE = "not-a-valid-value"


def shape_problems(response):
    """Why ``response`` is not an error answer in the API's shape: a list, empty when it is."""
    if not response["Content-Type"].startswith("application/json"):
        return [f"{response.status_code} answered {response['Content-Type']}"]
    body = json.loads(response.content)
    problems = []
    if body.get("type") not in ERROR_TYPES:
        problems.append(f"type {body.get('type')!r} is not one of ERROR_TYPES")
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        problems.append("no detail sentence")
    if not isinstance(body.get("errors"), list):
        problems.append("no errors list")
    for entry in body.get("errors") or []:
        if not {"field", "message", "code"} <= set(entry) or not isinstance(entry["message"], str):
            problems.append(f"entry {entry} lacks field, message or code")
        if "index" in entry and not isinstance(entry["index"], int):
            problems.append(f"entry {entry} has a non-integer index")
    if response.status_code == 403 and not body.get("required_roles"):
        problems.append("a 403 without required_roles")
    return [f"{response.status_code}: {problem} in {json.dumps(body)[:300]}" for problem in problems]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return published_schema()


def signed_in(user):
    client = APIClient()
    client.credentials(**bearer(login(user.username).json()["access_token"]))
    return client


def send(client, method, path, *, query=None, body=None, path_value=None):
    url = path.replace("{well_id}", path_value or "WELL-001").replace("{id}", path_value or "1")
    if body is None:
        return getattr(client, method.lower())(url, query or {}, format="json")
    return getattr(client, method.lower())(url, data=body, content_type="application/json")


def check(schema, method, path, response, seen):
    if response.status_code < 400:
        return []
    seen.add(response.status_code)
    return [f"{method} {path}: {problem}" for problem in shape_problems(response)] + response_problems(
        schema, method, path, response
    )


def test_every_operation_answers_bad_requests_in_the_one_error_shape(schema, well):
    admin = signed_in(UserFactory(username="ada_admin", role="admin"))
    roleless = signed_in(UserFactory(username="rolf_roleless"))
    problems, seen = [], set()
    for method, path, operation in operations(schema):
        parameters = operation.get("parameters", [])
        calls = [(APIClient(), {}), (roleless, {})]  # no token; signed in without a role
        if "requestBody" in operation:
            calls.append((admin, {"body": "{not json"}))
        for parameter in (p for p in parameters if p["in"] == "query"):
            calls.append((admin, {"query": {parameter["name"]: BAD_VALUE}}))
        if any(p["in"] == "path" for p in parameters):
            calls.append((admin, {"path_value": NOTHING, **({"body": "{}"} if "requestBody" in operation else {})}))
        for client, request in calls:
            problems += check(schema, method, path, send(client, method, path, **request), seen)
    assert not problems, "\n".join(problems)
    assert {400, 401, 403, 404} <= seen  # each kind of refusal really was met


def test_a_403_names_the_roles_that_may(bearer_client, viewer):
    response = bearer_client(viewer).post("/api/v1/telemetry/batch", {"readings": []}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "permission_denied"
    assert body["required_roles"] == ["operator", "admin"]
    assert "operator" in body["detail"] and "you have the viewer role" in body["detail"]


def test_a_malformed_json_body_is_a_parse_error(bearer_client, operator):
    response = bearer_client(operator).post("/api/v1/wells/", data="{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "parse_error"
    assert response.json()["errors"] == []


def test_field_errors_are_listed_one_entry_each(bearer_client, operator):
    response = bearer_client(operator).post("/api/v1/wells/", {}, format="json")
    body = response.json()
    assert response.status_code == 400
    assert body["type"] == "validation_error"
    assert {entry["field"] for entry in body["errors"]} >= {"well_id", "name"}
    assert all(entry["code"] == "required" for entry in body["errors"])


def test_an_unknown_api_address_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert shape_problems(response) == []
    assert response.json()["type"] == "not_found"


def test_a_method_the_endpoint_lacks_is_a_405_in_the_shape(bearer_client, viewer):
    response = bearer_client(viewer).put("/api/v1/auth/me", {}, format="json")
    assert response.status_code == 405
    assert shape_problems(response) == []
    assert response.json()["type"] == "method_not_allowed"


def test_a_token_that_is_not_one_is_refused_in_the_shape(client):
    response = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert shape_problems(response) == []
    assert response.json()["type"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_token_is_not_authenticated(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json() == {
        "type": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
        "errors": [],
    }


def test_every_documented_error_example_has_the_shape(schema):
    problems = []
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples", {})
            for name, example in examples.items():
                body = example["value"]
                if int(status) >= 400 and not {"type", "detail", "errors"} <= set(body):
                    problems.append(f"{method} {path} {status} example {name!r}: {body}")
    assert not problems, "\n".join(problems)


def test_every_error_answer_in_the_schema_has_the_error_body(schema):
    problems = []
    for method, path, operation in operations(schema):
        if {} not in operation.get("security", [{}]) and "401" not in operation["responses"]:
            problems.append(f"{method} {path}: needs a token but documents no 401")
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            documented = schema["components"]["schemas"][ref]["properties"]
            if not {"type", "detail", "errors"} <= set(documented):
                problems.append(f"{method} {path} {status}: body {ref} is not the error shape")
    assert not problems, "\n".join(problems)
    assert schema["components"]["schemas"]["Error"]["required"] == ["type", "detail", "errors"]


def test_a_server_error_on_an_api_path_is_json_in_the_shape(rf):
    response = server_error(rf.get("/api/v1/wells/"))
    assert response.status_code == 500
    assert shape_problems(response) == []
    assert json.loads(response.content)["type"] == "server_error"
    assert server_error(rf.get("/wells/"))["Content-Type"].startswith("text/html")
