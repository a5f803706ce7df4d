"""Fixtures shared by every test: role users and API clients signed in as them."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import TEST_PASSWORD, UserFactory, WellFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is the production hasher; tests don't need its deliberate slowness.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty Redis cache (throttles, token denylist)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera_viewer", role="viewer")


@pytest.fixture
def operator(db):
    return UserFactory(username="omar_operator", role="operator")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada_admin", role="admin")


@pytest.fixture
def anonymous_client():
    return APIClient()


def _client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def operator_client(operator):
    return _client_for(operator)


@pytest.fixture
def admin_client_api(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def sign_in(db):
    """Signs a user in through POST /api/v1/auth/login and returns the response body (real tokens)."""

    def _sign_in(user, password=TEST_PASSWORD):
        response = APIClient().post(
            "/api/v1/auth/login", {"username": user.username, "password": password}, format="json"
        )
        assert response.status_code == 200, response.json()
        return response.json()

    return _sign_in


@pytest.fixture
def bearer_client(sign_in):
    """An API client for ``user`` that sends a real access token, as integrations do."""

    def _bearer_client(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {sign_in(user)['access_token']}")
        return client

    return _bearer_client


@pytest.fixture
def staff_client(client, db):
    """A browser session of a superuser, for Django admin pages."""
    engineer = User.objects.create_superuser("engineer", password="a-long-enough-password-1")
    client.force_login(engineer)
    return client


@pytest.fixture
def well(db):
    return WellFactory(well_id="WELL-001", name="Ghawar North 1")
