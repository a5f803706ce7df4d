"""Signing in to the dashboards: sessions, the admin's throttle and audit, sign-out by POST."""

import pytest
from django.test import Client

from accounts.models import AuthEvent, AuthEventKind
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def _sign_in(client, username, password=TEST_PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data, REMOTE_ADDR="198.51.100.7")


def test_the_sign_in_page_has_a_csrf_protected_form(client):
    page = client.get("/login").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and 'autocomplete="current-password"' in page


def test_it_signs_a_viewer_in_with_a_session_and_audits_it(client, viewer):
    response = _sign_in(client, "vera_viewer", next_url="/alarms/")
    assert response.status_code == 302 and response["Location"] == "/alarms/"
    assert client.get("/alarms/").status_code == 200
    event = AuthEvent.objects.filter(event=AuthEventKind.LOGIN_SUCCESS).latest("id")
    assert event.username == "vera_viewer" and event.ip_address == "198.51.100.7"
    assert event.details == {"via": "session"}


def test_it_refuses_a_wrong_password_and_audits_the_refusal(client, viewer):
    response = _sign_in(client, "vera_viewer", "not-the-password-0000")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert AuthEvent.objects.filter(event=AuthEventKind.LOGIN_FAILED, username="vera_viewer").exists()
    assert client.get("/").status_code == 302


def test_it_locks_the_username_after_five_refusals_as_the_admin_does(client, viewer):
    for _ in range(5):
        _sign_in(client, "vera_viewer", "not-the-password-0000")
    locked = _sign_in(client, "vera_viewer")  # the right password, but the window is locked
    assert "Too many failed sign-ins" in locked.content.decode()
    assert client.get("/").status_code == 302
    # The Django admin's sign-in obeys the same lock.
    admin = Client().post(
        "/admin/login/", {"username": "vera_viewer", "password": TEST_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert "Too many failed sign-ins" in admin.content.decode()


def test_an_account_without_a_role_cannot_sign_in(client, roleless):
    response = _sign_in(client, "nora_norole")
    assert "Please enter a correct username and password" in response.content.decode()
    refusal = AuthEvent.objects.filter(event=AuthEventKind.LOGIN_FAILED, username="nora_norole").latest("id")
    assert refusal.details["reason"] == "no_role"


def test_a_signed_in_user_is_sent_on_from_the_sign_in_page(signed_in, viewer):
    response = signed_in(viewer).get("/login")
    assert response.status_code == 302 and response["Location"] == "/"


def test_sign_out_takes_a_post_and_ends_the_session(signed_in, viewer):
    client = signed_in(viewer)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/login"
    assert client.get("/").status_code == 302
