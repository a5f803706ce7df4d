"""Admins managing users through /api/v1/auth/users."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.accounts.auth_calls import NEW_PASSWORD, USERS_URL, bearer, login
from tests.api_errors import named_errors
from tests.factories import UserFactory
from wells.api.serializers import WELL_EXAMPLE

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(bearer_client, admin_user):
    return bearer_client(admin_user)


def test_it_lists_users_with_their_roles(admin_api, viewer, operator):
    UserFactory(username="root_user", is_superuser=True)
    UserFactory(username="no_role_user")
    response = admin_api.get(USERS_URL)
    assert response.status_code == 200
    roles = {user["username"]: user["role"] for user in response.json()["results"]}
    assert roles == {
        "ada_admin": "admin",
        "no_role_user": None,
        "omar_operator": "operator",
        "root_user": "admin",
        "vera_viewer": "viewer",
    }
    assert all("password" not in user for user in response.json()["results"])


def test_it_creates_a_user_with_a_role_who_can_then_sign_in(admin_api):
    response = admin_api.post(
        USERS_URL,
        {"username": "nora_new", "email": "nora@example.com", "password": NEW_PASSWORD, "role": "operator"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "operator"
    session = login("nora_new", NEW_PASSWORD).json()
    assert session["user"]["role"] == "operator"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "password1234"}, "password"),
        ({"password": "123456789012345"}, "password"),
        ({"role": "superhero"}, "role"),
        ({"username": "has spaces!"}, "username"),
        ({"username": "ada_admin"}, "username"),
        ({"email": "not-an-address"}, "email"),
        ({"username": None}, "username"),
    ],
)
def test_it_refuses_a_bad_new_user_naming_the_field(admin_api, change, field):
    body = {"username": "nora_new", "password": NEW_PASSWORD, "role": "viewer", **change}
    response = admin_api.post(USERS_URL, body, format="json")
    assert response.status_code == 400
    assert field in named_errors(response)
    assert not User.objects.filter(username="nora_new").exists()


def test_it_changes_a_role_with_effect_on_the_next_call(admin_api, viewer):
    session = login("vera_viewer").json()
    new_well = {**WELL_EXAMPLE, "well_id": "WELL-321"}
    assert admin_api.patch(f"{USERS_URL}/{viewer.pk}", {"role": "operator"}, format="json").json()["role"] == "operator"
    # The same token, now with operator rights: roles are read per request, not baked into tokens.
    response = APIClient().post("/api/v1/wells/", new_well, format="json", **bearer(session["access_token"]))
    assert response.status_code == 201


def test_it_shows_one_user(admin_api, operator):
    response = admin_api.get(f"{USERS_URL}/{operator.pk}")
    assert response.status_code == 200
    assert response.json()["username"] == "omar_operator"
    assert admin_api.get(f"{USERS_URL}/999999").status_code == 404


def test_it_deactivates_a_user(admin_api, viewer):
    response = admin_api.patch(f"{USERS_URL}/{viewer.pk}", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["role"] == "viewer"  # kept for when the account comes back
    assert login("vera_viewer").status_code == 401


def test_it_keeps_an_admin_from_locking_themselves_out(admin_api, admin_user):
    response = admin_api.patch(f"{USERS_URL}/{admin_user.pk}", {"is_active": False}, format="json")
    assert response.status_code == 400
    assert "is_active" in named_errors(response)
    response = admin_api.patch(f"{USERS_URL}/{admin_user.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "role" in named_errors(response)
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.groups.filter(name="admin").exists()


def test_it_refuses_to_give_a_superuser_a_lower_role(admin_api):
    root = UserFactory(username="root_user", is_superuser=True)
    response = admin_api.patch(f"{USERS_URL}/{root.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "superuser" in named_errors(response)["role"][0]


def test_it_refuses_a_weak_new_password_and_keeps_the_old_one(admin_api, viewer):
    response = admin_api.patch(f"{USERS_URL}/{viewer.pk}", {"password": "vera_viewer1"}, format="json")
    assert response.status_code == 400
    assert "password" in named_errors(response)
    assert login("vera_viewer").status_code == 200


@pytest.mark.parametrize("body", [{"is_active": "maybe"}, {"role": 3}, {"email": ["a@b.c"]}])
def test_it_rejects_a_malformed_change_naming_the_field(admin_api, viewer, body):
    response = admin_api.patch(f"{USERS_URL}/{viewer.pk}", body, format="json")
    assert response.status_code == 400
    assert set(body) <= set(named_errors(response))


def test_it_does_not_delete_users(admin_api, viewer):
    assert admin_api.delete(f"{USERS_URL}/{viewer.pk}").status_code == 405
    assert User.objects.filter(pk=viewer.pk).exists()
