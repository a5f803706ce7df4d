"""POST /api/v1/auth/login: the response shape integrations rely on, refusals, malformed bodies."""

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.demo import reset_demo_users
from tests.accounts.auth_calls import LOGIN_URL, bearer, login, me
from tests.accounts.hashers import CountingHasher
from tests.api_errors import named_errors
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_it_signs_in_with_the_response_shape_of_the_original_platform(operator):
    response = login("omar_operator")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"] == {"id": operator.pk, "username": "omar_operator", "role": "operator"}
    assert me(body["access_token"]).json()["username"] == "omar_operator"


REFUSED = {"type": "authentication_failed", "detail": "Invalid username or password.", "errors": []}


def test_it_answers_the_same_for_a_wrong_password_and_an_unknown_user(viewer):
    wrong_password = login("vera_viewer", "not-the-password-at-all")
    unknown_user = login("nobody_here", "not-the-password-at-all")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json() == REFUSED
    assert wrong_password.headers["WWW-Authenticate"] == unknown_user.headers["WWW-Authenticate"]


def test_it_hashes_a_password_even_for_an_unknown_user(settings):
    # The time a refusal takes must not reveal whether the username exists: both cost one hash.
    settings.PASSWORD_HASHERS = ["tests.accounts.hashers.CountingHasher"]
    UserFactory(username="vera_viewer", role="viewer")

    CountingHasher.hashes_computed = 0
    login("vera_viewer", "wrong-password-123")
    for_a_real_user = CountingHasher.hashes_computed

    CountingHasher.hashes_computed = 0
    login("nobody_here", "wrong-password-123")
    assert for_a_real_user == CountingHasher.hashes_computed == 1


def test_it_refuses_an_inactive_user_like_a_wrong_password(db):
    UserFactory(username="gone_user", role="viewer", is_active=False)
    response = login("gone_user")
    assert response.status_code == 401
    assert response.json() == REFUSED


def test_it_signs_in_with_the_production_argon2_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory(username="argon_user", role="viewer")
    assert user.password.startswith("argon2")
    assert login("argon_user").status_code == 200


def test_it_ships_no_default_account(db):
    assert not User.objects.exists()
    for username, password in [("admin", "admin123"), ("admin", "admin"), ("operator", "operator")]:
        assert login(username, password).status_code == 401


def test_it_ignores_a_stale_token_in_the_header_when_signing_in(viewer):
    response = APIClient().post(
        LOGIN_URL, {"username": "vera_viewer", "password": TEST_PASSWORD}, format="json", **bearer("expired.or.junk")
    )
    assert response.status_code == 200


def test_it_shows_the_role_and_last_sign_in_on_me(viewer):
    tokens = login("vera_viewer").json()
    body = me(tokens["access_token"]).json()
    assert body["role"] == "viewer"
    assert body["last_login"] is not None
    assert "password" not in body


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        ("{not json", "application/json", None),  # a parse_error: no field is at fault
        ('["vera_viewer", "password"]', "application/json", None),  # no field is at fault: the body as a whole
        (json.dumps({"password": TEST_PASSWORD}), "application/json", "username"),
        (json.dumps({"username": "vera_viewer"}), "application/json", "password"),
        (json.dumps({"username": ["vera_viewer"], "password": TEST_PASSWORD}), "application/json", "username"),
        (json.dumps({"username": "vera_viewer", "password": {"plain": "x"}}), "application/json", "password"),
        (json.dumps({"username": None, "password": TEST_PASSWORD}), "application/json", "username"),
        (json.dumps({"username": "", "password": TEST_PASSWORD}), "application/json", "username"),
        (json.dumps({"username": "v" * 1_000_000, "password": TEST_PASSWORD}), "application/json", "username"),
        (json.dumps({"username": "vera_viewer", "password": "p" * 5000}), "application/json", "password"),
        (json.dumps({"username": "vera\u0000viewer", "password": TEST_PASSWORD}), "application/json", "username"),
    ],
    ids=[
        "not-json",
        "a-list",
        "no-username",
        "no-password",
        "username-is-a-list",
        "password-is-an-object",
        "username-is-null",
        "username-is-empty",
        "1MB-username",
        "5000-character-password",
        "NUL-in-username",
    ],
)
def test_it_rejects_a_malformed_body_naming_the_field(viewer, body, content_type, field):
    response = APIClient().generic("POST", LOGIN_URL, body, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    if field is None:  # not a JSON object: no field is at fault
        assert response.json()["type"] == "parse_error" or None in named_errors(response)
    else:
        assert field in named_errors(response)
    # The echo of a huge username stays out of the answer.
    assert len(response.content) < 1000


def test_it_signs_in_demo_users_with_the_passwords_printed_for_them(db):
    credentials = reset_demo_users()
    for username, password in credentials.items():
        assert login(username, password).json()["user"]["role"] == username
    # A second load generates new passwords: the printed ones are the only copy.
    assert reset_demo_users() != credentials
    assert login("admin", credentials["admin"]).status_code == 401


def test_every_demo_user_can_open_the_django_admin_with_their_role(db, client):
    credentials = reset_demo_users()
    for username in ("viewer", "operator"):
        client.login(username=username, password=credentials[username])
        assert client.get("/admin/wells/well/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403  # the operator manages no users
