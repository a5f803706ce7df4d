"""The audit trail: every account event with who, from where and with what; the admin-only API."""

import logging

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthEvent
from tests.accounts.auth_calls import AUDIT_URL, LOGIN_URL, LOGOUT_URL, NEW_PASSWORD, REFRESH_URL, USERS_URL, bearer
from tests.api_errors import named_errors
from tests.factories import TEST_PASSWORD
from tests.history import rewriting_audit_trail

pytestmark = pytest.mark.django_db

FROM_FIELD = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "scada-bridge/2.1"}
FROM_ADMIN_DESK = {"REMOTE_ADDR": "192.0.2.20", "HTTP_USER_AGENT": "Mozilla/5.0 admin-console"}


def call(method, url, body=None, token=None, meta=FROM_FIELD):
    headers = {**meta, **(bearer(token) if token else {})}
    return getattr(APIClient(), method)(url, body, format="json", **headers)


def walk_through_every_event():
    """Signs in, fails, refreshes, logs out, and has an admin create, re-role, re-password and deactivate
    a user; returns the passwords and tokens that were used."""
    with rewriting_audit_trail():
        AuthEvent.objects.all().delete()  # start the trail after the fixtures' own set-up
    secrets = [TEST_PASSWORD, NEW_PASSWORD, "wrong-password-0000"]
    admin = call("post", LOGIN_URL, {"username": "ada_admin", "password": TEST_PASSWORD}, meta=FROM_ADMIN_DESK).json()
    call("post", LOGIN_URL, {"username": "vera_viewer", "password": "wrong-password-0000"})
    session = call("post", LOGIN_URL, {"username": "vera_viewer", "password": TEST_PASSWORD}).json()
    renewed = call("post", REFRESH_URL, {"refresh_token": session["refresh_token"]}).json()
    call("post", LOGOUT_URL, {"refresh_token": renewed["refresh_token"]}, token=renewed["access_token"])

    as_admin = {"token": admin["access_token"], "meta": FROM_ADMIN_DESK}
    new_user = {"username": "nora_new", "password": NEW_PASSWORD, "role": "viewer"}
    nora = call("post", USERS_URL, new_user, **as_admin).json()
    call("patch", f"{USERS_URL}/{nora['id']}", {"role": "operator"}, **as_admin)
    call("patch", f"{USERS_URL}/{nora['id']}", {"password": "another-" + NEW_PASSWORD}, **as_admin)
    call("patch", f"{USERS_URL}/{nora['id']}", {"is_active": False}, **as_admin)
    secrets.append("another-" + NEW_PASSWORD)
    tokens = [admin, session, renewed]
    return secrets + [token for pair in tokens for token in (pair["access_token"], pair["refresh_token"])]


@pytest.fixture
def every_event_once(viewer, admin_user):
    return walk_through_every_event()


def test_it_records_every_event_with_ip_and_user_agent(every_event_once):
    events = AuthEvent.objects.all()
    assert {event.event for event in events} == {
        "login_success",
        "login_failed",
        "refresh",
        "logout",
        "user_created",
        "role_changed",
        "password_changed",
        "user_deactivated",
        "token_revoked",
    }
    for event in events:
        assert event.ip_address in ("203.0.113.7", "192.0.2.20"), event
        assert event.user_agent in ("scada-bridge/2.1", "Mozilla/5.0 admin-console"), event


def test_it_names_the_admin_who_changed_a_user(every_event_once):
    for kind in ("user_created", "role_changed", "password_changed", "user_deactivated", "token_revoked"):
        event = AuthEvent.objects.filter(event=kind, username="nora_new").first()
        assert event.actor.username == "ada_admin", kind
        assert event.ip_address == "192.0.2.20"
    role_change = AuthEvent.objects.filter(event="role_changed", username="nora_new").first()
    assert role_change.details == {"from": "viewer", "to": "operator"}
    failure = AuthEvent.objects.get(event="login_failed")
    assert failure.actor is None
    assert failure.details == {"reason": "wrong_password"}


def test_it_never_stores_or_logs_passwords_or_tokens(caplog, viewer, admin_user):
    with caplog.at_level(logging.DEBUG):
        secrets = walk_through_every_event()
    stored = " ".join(
        str(row) for row in AuthEvent.objects.values_list("username", "user_agent", "details", "ip_address")
    )
    for secret in secrets:
        assert secret not in stored
        assert secret not in caplog.text
    assert "login_success" in caplog.text  # the audit log does reach the logs


def test_it_records_changes_made_outside_any_request_without_an_address(viewer):
    with rewriting_audit_trail():
        AuthEvent.objects.all().delete()
    viewer.set_password(NEW_PASSWORD)
    viewer.save()
    event = AuthEvent.objects.get(event="password_changed")
    assert (event.username, event.actor, event.ip_address, event.user_agent) == ("vera_viewer", None, None, "")


def test_it_takes_the_callers_ip_from_the_trusted_proxy_only(settings, viewer):
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.9"}
    call("post", LOGIN_URL, {"username": "vera_viewer", "password": "x-wrong-0000"}, meta=forwarded)
    settings.TRUSTED_PROXY_COUNT = 1
    call("post", LOGIN_URL, {"username": "vera_viewer", "password": "y-wrong-0000"}, meta=forwarded)
    failures = AuthEvent.objects.filter(event="login_failed").order_by("id")
    addresses = list(failures.values_list("ip_address", flat=True))
    assert addresses == ["10.0.0.2", "198.51.100.9"]  # never the client-chosen 6.6.6.6


def test_it_lists_the_audit_log_newest_first_for_admins(every_event_once, bearer_client, admin_user):
    response = bearer_client(admin_user).get(AUDIT_URL, {"page_size": 500})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["timestamp"] >= results[-1]["timestamp"]
    assert set(results[0]) == {"id", "timestamp", "event", "username", "actor", "ip_address", "user_agent", "details"}


def test_it_filters_the_audit_log_by_user_event_and_time(every_event_once, bearer_client, admin_user):
    admin = bearer_client(admin_user)
    about_nora = admin.get(AUDIT_URL, {"username": "nora_new"}).json()["results"]
    assert about_nora and {row["username"] for row in about_nora} == {"nora_new"}

    failures = admin.get(AUDIT_URL, {"event": "login_failed"}).json()["results"]
    assert [row["username"] for row in failures] == ["vera_viewer"]

    with rewriting_audit_trail():
        AuthEvent.objects.filter(event="logout").update(timestamp=timezone.now() - timezone.timedelta(days=3))
    window = {
        "since": (timezone.now() - timezone.timedelta(days=4)).isoformat(),
        "until": timezone.now() - timezone.timedelta(days=2),
    }
    assert [row["event"] for row in admin.get(AUDIT_URL, window).json()["results"]] == ["logout"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event": "exploded"}, "event"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
    ],
)
def test_it_rejects_a_bad_audit_filter_naming_it(bearer_client, admin_user, params, field):
    response = bearer_client(admin_user).get(AUDIT_URL, params)
    assert response.status_code == 400
    assert field in named_errors(response)
