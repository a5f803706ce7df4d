"""Calls to the auth API made the way an integration makes them: real JSON, real Bearer tokens."""

from rest_framework.test import APIClient

from tests.factories import TEST_PASSWORD

LOGIN_URL = "/api/v1/auth/login"
REFRESH_URL = "/api/v1/auth/refresh"
LOGOUT_URL = "/api/v1/auth/logout"
ME_URL = "/api/v1/auth/me"
USERS_URL = "/api/v1/auth/users"
AUDIT_URL = "/api/v1/auth/audit"

# A password the validators accept (12+ characters, not common, not numeric, not like the username).
NEW_PASSWORD = "pump-curve-drift-2718"


def login(username, password=TEST_PASSWORD, **request_meta):
    """POST /api/v1/auth/login from a fresh client; ``request_meta`` sets e.g. REMOTE_ADDR."""
    return APIClient().post(LOGIN_URL, {"username": username, "password": password}, format="json", **request_meta)


def bearer(access_token):
    """Request headers that authenticate with ``access_token``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}


def me(access_token):
    return APIClient().get(ME_URL, **bearer(access_token))


def refresh(refresh_token):
    return APIClient().post(REFRESH_URL, {"refresh_token": refresh_token}, format="json")


def logout(tokens):
    return APIClient().post(
        LOGOUT_URL, {"refresh_token": tokens["refresh_token"]}, format="json", **bearer(tokens["access_token"])
    )
