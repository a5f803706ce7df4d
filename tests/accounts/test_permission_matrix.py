"""Who may call what: every API endpoint × {anonymous, viewer, operator, admin}, with real Bearer tokens
from POST /api/v1/auth/login.

MATRIX is the permission matrix of the platform, one row per operation. A later issue that adds an
endpoint adds its rows here; test_it_covers_every_endpoint fails until it does.
"""

import dataclasses
import datetime
import types
from collections.abc import Callable

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.permissions import RolePermission
from accounts.roles import Role
from alarms.lifecycle import raise_alarm, take_out_of_service
from alarms.models import Alarm, WebhookReceiver
from tests.accounts.auth_calls import NEW_PASSWORD, bearer, login
from tests.factories import TEST_PASSWORD, UserFactory, WellFactory
from wells.api.serializers import WELL_EXAMPLE
from wells.models import Well

pytestmark = pytest.mark.django_db

CALLERS = ["anonymous", "viewer", "operator", "admin"]


@dataclasses.dataclass(frozen=True)
class Scene:
    """What a row's path and body may refer to: a well, a second user to act on, the caller's tokens."""

    well_id: str
    subject: object
    caller_tokens: dict

    def path_values(self):
        return {"well_id": self.well_id, "id": self.subject.pk}


@dataclasses.dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the OpenAPI schema; {placeholders} come from Scene.path_values()
    anonymous: int
    viewer: int
    operator: int
    admin: int
    body: dict | Callable[[Scene], dict] | None = None

    def expected(self, caller):
        return getattr(self, caller)

    def url(self, scene):
        return self.path.format(**scene.path_values())

    def body_for(self, scene):
        return self.body(scene) if callable(self.body) else self.body


def a_new_well(scene):
    return {**WELL_EXAMPLE, "well_id": "WELL-777"}


def the_whole_well(scene):
    return {**WELL_EXAMPLE, "well_id": scene.well_id}


def subject_credentials(scene):
    return {"username": scene.subject.username, "password": TEST_PASSWORD}


def a_subject_refresh_token(scene):
    return {"refresh_token": login(scene.subject.username).json()["refresh_token"]}


def own_refresh_token(scene):
    # Anonymous callers have none; they are refused before the body is read.
    return {"refresh_token": scene.caller_tokens.get("refresh_token", "none")}


def a_reading(scene):
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    return {"well_id": scene.well_id, "timestamp": moment.isoformat(), "flow_rate": 1000.0, "pip": 1200.0,
            "motor_current": 47.0}  # fmt: skip


def a_batch(scene):
    return {"readings": [a_reading(scene)]}


def the_well_query(scene):
    return {"well_id": scene.well_id}


def a_new_user(scene):
    return {"username": "nora_new", "password": NEW_PASSWORD, "role": "viewer"}


@dataclasses.dataclass(frozen=True)
class PreparedRow(Row):
    """A row whose path names a thing of its own (an alarm, an out-of-service entry): ``prepare(scene)``
    creates it and returns the path values that name it."""

    prepare: Callable[[Scene], dict] | None = None

    def url(self, scene):
        return self.path.format(**{**scene.path_values(), **self.prepare(scene)})


def _recently(**delta):
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(**delta)


def an_open_alarm(scene):
    well = Well.objects.get(well_id=scene.well_id)
    return {"id": raise_alarm(well, "gas_lock", "critical", at=_recently(minutes=-10)).alarm.pk}


def a_shelved_alarm(scene):
    alarm = Alarm.objects.get(pk=an_open_alarm(scene)["id"])
    alarm.shelve(UserFactory(role="operator"), until=_recently(hours=1), reason="Known slugging.", now=_recently())
    return {"id": alarm.pk}


def an_out_of_service_entry(scene):
    well = Well.objects.get(well_id=scene.well_id)
    entry = take_out_of_service(well=well, alarm_type="", reason="Workover rig on site.", until=None,
                                user=UserFactory(role="admin"), now=_recently())  # fmt: skip
    return {"id": entry.pk}


def a_webhook_receiver(scene):
    receiver = WebhookReceiver.objects.create(name="SCADA gateway", url="https://scada.example.com/esp/alarms")
    return {"id": receiver.pk}


def a_new_webhook_receiver(scene):
    return {"name": "On-call pager", "url": "https://pager.example.com/hooks/esp"}


def a_shelve(scene):
    return {"reason": "Known gas slugging after the workover.", "until": _recently(hours=2).isoformat()}


def an_out_of_service(scene):
    return {"well_id": scene.well_id, "reason": "Workover rig on site."}


# fmt: off
MATRIX = [
    #   method    path                            anonymous viewer operator admin
    Row("GET",    "/api/v1/wells/",                   401,   200,   200,   200),
    Row("POST",   "/api/v1/wells/",                   401,   403,   201,   201, body=a_new_well),
    Row("GET",    "/api/v1/wells/{well_id}/",         401,   200,   200,   200),
    Row("PUT",    "/api/v1/wells/{well_id}/",         401,   403,   200,   200, body=the_whole_well),
    Row("PATCH",  "/api/v1/wells/{well_id}/",         401,   403,   200,   200, body={"status": "maintenance"}),
    Row("DELETE", "/api/v1/wells/{well_id}/",         401,   403,   403,   204),

    Row("POST",   "/api/v1/auth/login",               200,   200,   200,   200, body=subject_credentials),
    Row("POST",   "/api/v1/auth/refresh",             200,   200,   200,   200, body=a_subject_refresh_token),
    Row("POST",   "/api/v1/auth/logout",              401,   204,   204,   204, body=own_refresh_token),
    Row("GET",    "/api/v1/auth/me",                  401,   200,   200,   200),
    Row("GET",    "/api/v1/auth/users",               401,   403,   403,   200),
    Row("POST",   "/api/v1/auth/users",               401,   403,   403,   201, body=a_new_user),
    Row("GET",    "/api/v1/auth/users/{id}",          401,   403,   403,   200),
    Row("PATCH",  "/api/v1/auth/users/{id}",          401,   403,   403,   200, body={"role": "operator"}),
    Row("GET",    "/api/v1/auth/audit",               401,   403,   403,   200),
    Row("GET",    "/api/v1/auth/changes",             401,   403,   403,   200),

    Row("POST",   "/api/v1/telemetry/ingest",         401,   403,   201,   201, body=a_reading),
    Row("POST",   "/api/v1/telemetry/batch",          401,   403,   201,   201, body=a_batch),
    Row("GET",    "/api/v1/telemetry/readings",       401,   200,   200,   200, body=the_well_query),
    Row("GET",    "/api/v1/telemetry/export.csv",     401,   200,   200,   200, body=the_well_query),

    Row("GET",    "/api/v1/analytics/telemetry/hourly/{well_id}", 401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/telemetry/daily/{well_id}",  401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/performance/{well_id}",      401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/diagnostics/{well_id}",      401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/overview",                   401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/ranking/efficiency",         401, 200, 200, 200),
    Row("GET",    "/api/v1/analytics/ranking/health",             401, 200, 200, 200),

    Row("GET",    "/api/v1/diagnostics/",                         401, 200, 200, 200),
    Row("POST",   "/api/v1/diagnostics/run/{well_id}",            401, 403, 200, 200),

    Row("GET",    "/api/v1/alarms/",                              401, 200, 200, 200),
    PreparedRow("GET",  "/api/v1/alarms/{id}",                    401, 200, 200, 200, prepare=an_open_alarm),
    PreparedRow("POST", "/api/v1/alarms/{id}/acknowledge",        401, 403, 200, 200, prepare=an_open_alarm),
    PreparedRow("POST", "/api/v1/alarms/{id}/shelve",             401, 403, 200, 200, body=a_shelve,
                prepare=an_open_alarm),
    PreparedRow("POST", "/api/v1/alarms/{id}/unshelve",           401, 403, 200, 200, prepare=a_shelved_alarm),
    PreparedRow("POST", "/api/v1/alarms/{id}/clear",              401, 403, 200, 200, prepare=an_open_alarm),
    Row("GET",    "/api/v1/alarms/kpis",                          401, 200, 200, 200),
    Row("GET",    "/api/v1/alarms/out-of-service",                401, 200, 200, 200),
    Row("POST",   "/api/v1/alarms/out-of-service",                401, 403, 403, 201, body=an_out_of_service),
    PreparedRow("GET",  "/api/v1/alarms/out-of-service/{id}",     401, 200, 200, 200, prepare=an_out_of_service_entry),
    PreparedRow("POST", "/api/v1/alarms/out-of-service/{id}/return-to-service",
                                                                  401, 403, 403, 200, prepare=an_out_of_service_entry),
    Row("GET",    "/api/v1/alarms/notifications/preferences",     401, 200, 200, 200),
    Row("PUT",    "/api/v1/alarms/notifications/preferences",     401, 200, 200, 200,
        body={"email": False, "min_severity": "critical"}),
    Row("GET",    "/api/v1/alarms/notifications/deliveries",      401, 403, 403, 200),
    Row("GET",    "/api/v1/alarms/webhooks",                      401, 403, 403, 200),
    Row("POST",   "/api/v1/alarms/webhooks",                      401, 403, 403, 201, body=a_new_webhook_receiver),
    PreparedRow("GET",    "/api/v1/alarms/webhooks/{id}",         401, 403, 403, 200, prepare=a_webhook_receiver),
    PreparedRow("PATCH",  "/api/v1/alarms/webhooks/{id}",         401, 403, 403, 200, body={"active": False},
                prepare=a_webhook_receiver),
    PreparedRow("DELETE", "/api/v1/alarms/webhooks/{id}",         401, 403, 403, 204, prepare=a_webhook_receiver),

    Row("GET",    "/api/v1/operations/backups",                   401, 403, 403, 200),

    # The API's own documentation is public.
    Row("GET",    "/api/v1/openapi.yaml",             200,   200,   200,   200),
    Row("GET",    "/api/v1/openapi.json",             200,   200,   200,   200),
    Row("GET",    "/api/v1/docs",                     200,   200,   200,   200),
    Row("GET",    "/api/v1/redoc",                    200,   200,   200,   200),
]
# fmt: on

# Served under /api/v1/ but not operations of the schema (they serve it).
DOCUMENTATION_PATHS = {"/api/v1/openapi.yaml", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/redoc"}


def set_the_scene(caller):
    """The data every row needs, and the caller signed in through the real login endpoint."""
    WellFactory(well_id="WELL-001")
    subject = UserFactory(username="sam_subject", role="viewer")
    caller_tokens = {}
    if caller != "anonymous":
        UserFactory(username=f"{caller}_caller", role=caller)
        caller_tokens = login(f"{caller}_caller").json()
    return Scene(well_id="WELL-001", subject=subject, caller_tokens=caller_tokens)


@pytest.mark.parametrize(
    ("row", "caller"),
    [(row, caller) for row in MATRIX for caller in CALLERS],
    ids=[f"{row.method} {row.path} as {caller}" for row in MATRIX for caller in CALLERS],
)
def test_it_answers_each_caller_as_the_matrix_says(row, caller):
    scene = set_the_scene(caller)
    headers = bearer(scene.caller_tokens["access_token"]) if scene.caller_tokens else {}
    send = getattr(APIClient(), row.method.lower())
    response = send(row.url(scene), row.body_for(scene), format="json", **headers)
    assert response.status_code == row.expected(caller), response.content[:300]


def documented_operations():
    """(method, path) of every operation in the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations}


def test_it_covers_every_endpoint():
    in_matrix = {(row.method, row.path) for row in MATRIX}
    api_operations = {(method, path) for method, path in documented_operations() if path.startswith("/api/")}
    missing = api_operations - in_matrix
    assert not missing, f"add rows to MATRIX for {sorted(missing)}"
    stale = {(method, path) for method, path in in_matrix - api_operations if path not in DOCUMENTATION_PATHS}
    assert not stale, f"MATRIX has rows for operations that no longer exist: {sorted(stale)}"


def api_views(patterns=None, prefix=""):
    """(route, view class) of every URL pattern, walking included URLconfs."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)


def test_it_has_every_api_view_name_the_permission_it_needs():
    # The project default (RolePermission) would silently apply to a view that forgets; make it explicit.
    views = [(route, view) for route, view in api_views() if route.startswith("api/v1/")]
    assert views
    for route, view in views:
        assert view is not None and issubclass(view, APIView), f"{route} is not a DRF view"
        declared = any("permission_classes" in vars(klass) for klass in view.__mro__ if klass is not APIView)
        assert declared, f"{route}: {view.__name__} must set permission_classes"


def test_a_method_the_view_names_no_role_for_is_refused_even_to_an_admin(admin_user):
    view = types.SimpleNamespace(required_roles={"GET": Role.VIEWER})
    permission = RolePermission()
    for method, allowed in (("GET", True), ("HEAD", True), ("OPTIONS", True), ("POST", False), ("DELETE", False)):
        request = types.SimpleNamespace(method=method, user=admin_user)
        assert permission.has_permission(request, view) is allowed, method
