"""The published OpenAPI schema tells the truth: what callers really get back is what it documents.

The oracle is the running API, called with real tokens: every 401 an anonymous caller gets and every 403
a signed-in user without a role gets must be documented, with the body's schema; real responses,
including the fields that may be null or empty, must validate against the documented schemas.
"""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.accounts.auth_calls import login
from tests.config.openapi_responses import operations, published_schema, response_problems
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return published_schema()


def call(client, method, path, subject_id):
    url = path.format(well_id="WELL-001", id=subject_id)
    return getattr(client, method.lower())(url, format="json")


def test_every_operation_that_refuses_anonymous_callers_documents_the_401(schema, well):
    subject = UserFactory(username="sam_subject", role="viewer")
    problems = []
    for method, path, operation in operations(schema):
        response = call(APIClient(), method, path, subject.pk)
        needs_auth = {} not in operation.get("security", [{}])
        if needs_auth != (response.status_code == 401):
            problems.append(f"{method} {path}: security says auth={needs_auth}, anonymous got {response.status_code}")
        if response.status_code == 401:
            problems += response_problems(schema, method, path, response)
    assert not problems, "\n".join(problems)


def test_every_operation_that_needs_a_role_documents_the_403(schema, well):
    roleless = UserFactory(username="rolf_roleless")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(roleless.username).json()['access_token']}")
    refused = []
    problems = []
    for method, path, _ in operations(schema):
        response = call(client, method, path, roleless.pk)
        if response.status_code == 403:
            refused.append((method, path))
            problems += response_problems(schema, method, path, response)
    assert len(refused) > 20  # every wells, telemetry, analytics and user-management operation
    assert not problems, "\n".join(problems)


def test_documented_401_and_403_share_one_error_body(schema):
    for method, path, operation in operations(schema):
        for status in ("401", "403"):
            if status in operation["responses"] and {} not in operation.get("security", [{}]):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
    assert schema["components"]["schemas"]["Error"]["required"] == ["type", "detail", "errors"]


def window():
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    return {"start": (end - datetime.timedelta(days=2)).isoformat(), "end": end.isoformat()}


# (who calls, method, path as in the schema, query) whose real answers must match the schema.
ANSWERS = [
    ("viewer", "GET", "/api/v1/analytics/telemetry/hourly/{well_id}", {}),
    ("viewer", "GET", "/api/v1/analytics/telemetry/hourly/{well_id}", window),
    ("viewer", "GET", "/api/v1/analytics/telemetry/daily/{well_id}", {}),
    ("viewer", "GET", "/api/v1/analytics/telemetry/daily/{well_id}", window),
    ("viewer", "GET", "/api/v1/analytics/performance/{well_id}", {}),
    ("viewer", "GET", "/api/v1/analytics/performance/{well_id}", window),
    ("viewer", "GET", "/api/v1/analytics/diagnostics/{well_id}", {}),
    ("viewer", "GET", "/api/v1/analytics/diagnostics/{well_id}", window),
    ("viewer", "GET", "/api/v1/analytics/overview", {}),
    ("viewer", "GET", "/api/v1/analytics/ranking/health", {"order": "asc"}),
    ("viewer", "GET", "/api/v1/wells/", {}),
    ("viewer", "GET", "/api/v1/wells/{well_id}/", {}),
    ("viewer", "GET", "/api/v1/auth/me", {}),
    ("admin", "GET", "/api/v1/auth/users", {}),
    ("admin", "GET", "/api/v1/auth/users/{id}", {}),
    ("admin", "GET", "/api/v1/auth/audit", {}),
]


@pytest.mark.parametrize(
    ("who", "method", "path", "query"),
    ANSWERS,
    ids=[f"{path}{' start-end' if callable(query) else ''}" for _, _, path, query in ANSWERS],
)
def test_real_answers_match_the_schema(schema, bearer_client, viewer, admin_user, well, who, method, path, query):
    viewer.email = ""  # no address on file: the API answers "" for it
    viewer.save()
    login(viewer.username, password="wrong")  # an audit event without an actor
    client = bearer_client({"viewer": viewer, "admin": admin_user}[who])
    url = path.format(well_id=well.well_id, id=viewer.pk)
    response = getattr(client, method.lower())(url, query() if callable(query) else query)
    assert response.status_code == 200, response.content[:300]
    assert response_problems(schema, method, path, response) == []
