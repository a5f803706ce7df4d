"""Access and refresh tokens: logout, rotation, revocation on deactivation and password change."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import LoggedOutAccessToken
from accounts.tasks import delete_expired_logouts_task, delete_expired_refresh_tokens_task
from accounts.tokens import EPOCH_CLAIM
from tests.accounts.auth_calls import LOGOUT_URL, NEW_PASSWORD, USERS_URL, bearer, login, logout, me, refresh
from tests.api_errors import named_errors
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(viewer):
    return login("vera_viewer").json()


def test_it_authenticates_api_calls_with_the_access_token(tokens, well):
    response = APIClient().get("/api/v1/wells/", **bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_it_refuses_the_access_token_used_to_log_out_at_once(tokens):
    assert logout(tokens).status_code == 204
    response = me(tokens["access_token"])
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_the_refresh_token_given_at_logout(tokens):
    logout(tokens)
    assert refresh(tokens["refresh_token"]).status_code == 401


def test_it_keeps_the_users_other_sessions_after_logout(viewer, tokens):
    laptop = login("vera_viewer").json()
    logout(tokens)
    assert me(laptop["access_token"]).status_code == 200
    assert refresh(laptop["refresh_token"]).status_code == 200


def test_it_keeps_logged_out_token_ids_only_until_the_token_expires(tokens):
    logout(tokens)
    access = AccessToken(tokens["access_token"])
    logged_out = LoggedOutAccessToken.objects.get(jti=access["jti"])
    assert logged_out.expires_at.timestamp() == access["exp"]
    assert delete_expired_logouts_task() == 0  # not expired yet: still refused

    LoggedOutAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert delete_expired_logouts_task() == 1
    assert not LoggedOutAccessToken.objects.exists()


def test_a_logged_out_token_stays_refused_after_redis_loses_everything(tokens):
    logout(tokens)
    cache.clear()  # what a Redis restart without persistence, or FLUSHALL, does
    assert me(tokens["access_token"]).status_code == 401


def test_it_logs_out_with_an_already_expired_refresh_token(viewer, tokens):
    expired = RefreshToken.for_user(viewer)
    expired.set_exp(from_time=timezone.now() - timedelta(days=8))
    response = logout({"access_token": tokens["access_token"], "refresh_token": str(expired)})
    assert response.status_code == 204
    assert me(tokens["access_token"]).status_code == 401


def test_it_refuses_to_log_out_someone_elses_refresh_token(viewer, operator, tokens):
    others = login("omar_operator").json()
    response = logout({"access_token": tokens["access_token"], "refresh_token": others["refresh_token"]})
    assert response.status_code == 400
    assert "refresh_token" in named_errors(response)
    # Nothing changed: both sessions still work.
    assert me(tokens["access_token"]).status_code == 200
    assert refresh(others["refresh_token"]).status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh_token": 42.5}, {"refresh_token": ["a"]}, {"refresh_token": "x" * 5000}])
def test_it_rejects_a_malformed_logout_body_naming_the_field(tokens, body):
    response = APIClient().post(LOGOUT_URL, body, format="json", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert "refresh_token" in named_errors(response)


def test_it_rotates_refresh_tokens_and_refuses_the_old_one(tokens):
    response = refresh(tokens["refresh_token"])
    assert response.status_code == 200
    renewed = response.json()
    assert set(renewed) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert me(renewed["access_token"]).status_code == 200

    reused = refresh(tokens["refresh_token"])
    assert reused.status_code == 401
    assert reused.json() == {
        "type": "authentication_failed",
        "detail": "Invalid, expired or already used refresh token.",
        "errors": [],
    }
    assert refresh(renewed["refresh_token"]).status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh_token": None}, {"refresh_token": {"a": 1}}])
def test_it_rejects_a_malformed_refresh_body_naming_the_field(body):
    response = APIClient().post("/api/v1/auth/refresh", body, format="json")
    assert response.status_code == 400
    assert "refresh_token" in named_errors(response)


def test_it_does_not_mix_up_access_and_refresh_tokens(tokens):
    assert refresh(tokens["access_token"]).status_code == 401
    assert me(tokens["refresh_token"]).status_code == 401


def test_it_refuses_tampered_and_expired_tokens(viewer, tokens):
    header, payload, signature = tokens["access_token"].split(".")
    assert me(f"{header}.{payload}.{signature[::-1]}").status_code == 401
    expired = AccessToken.for_user(viewer)
    expired[EPOCH_CLAIM] = 0
    expired.set_exp(from_time=timezone.now() - timedelta(hours=1))
    assert me(str(expired)).status_code == 401
    assert refresh("not-a-token").status_code == 401


def test_it_refuses_a_token_without_an_epoch(viewer):
    # Tokens minted outside accounts.tokens (e.g. by simplejwt's own views) can't be revoked: refused.
    assert me(str(AccessToken.for_user(viewer))).status_code == 401


def test_it_revokes_every_token_when_an_admin_deactivates_the_user(viewer, tokens, bearer_client, admin_user):
    admin = bearer_client(admin_user)
    assert admin.patch(f"{USERS_URL}/{viewer.pk}", {"is_active": False}, format="json").status_code == 200
    assert me(tokens["access_token"]).status_code == 401
    assert refresh(tokens["refresh_token"]).status_code == 401
    assert login("vera_viewer").status_code == 401

    # Re-activation gives the account back, not the old tokens.
    assert admin.patch(f"{USERS_URL}/{viewer.pk}", {"is_active": True}, format="json").status_code == 200
    assert me(tokens["access_token"]).status_code == 401
    assert refresh(tokens["refresh_token"]).status_code == 401
    assert login("vera_viewer").status_code == 200


def test_it_revokes_every_token_when_the_password_changes(viewer, tokens, bearer_client, admin_user):
    other_device = login("vera_viewer").json()
    response = bearer_client(admin_user).patch(f"{USERS_URL}/{viewer.pk}", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200
    for session in (tokens, other_device):
        assert me(session["access_token"]).status_code == 401
        assert refresh(session["refresh_token"]).status_code == 401
    assert login("vera_viewer").status_code == 401
    assert login("vera_viewer", NEW_PASSWORD).status_code == 200


def test_it_revokes_tokens_when_the_password_is_changed_outside_the_api(viewer, tokens):
    # e.g. `manage.py changepassword` or a shell.
    viewer.set_password(NEW_PASSWORD)
    viewer.save()
    assert me(tokens["access_token"]).status_code == 401
    assert refresh(tokens["refresh_token"]).status_code == 401


def test_it_keeps_tokens_when_sign_in_merely_upgrades_the_password_hash(settings):
    user = UserFactory(username="legacy_user", role="viewer")  # hashed with MD5 (tests' fast hasher)
    old_session = login("legacy_user").json()
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert login("legacy_user", TEST_PASSWORD).status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2")  # re-hashed at sign-in ...
    assert me(old_session["access_token"]).status_code == 200  # ... which is not a password change


def test_it_lets_a_user_without_a_role_sign_in_and_out_but_read_nothing(well):
    UserFactory(username="no_role_user")
    session = login("no_role_user").json()
    assert session["user"]["role"] is None
    assert me(session["access_token"]).json()["role"] is None
    assert APIClient().get("/api/v1/wells/", **bearer(session["access_token"])).status_code == 403
    assert logout(session).status_code == 204


def test_the_daily_cleanup_forgets_only_expired_refresh_tokens(viewer, tokens):
    login("vera_viewer")  # a second session
    expired = OutstandingToken.objects.filter(user=viewer).order_by("id").first()
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save()
    delete_expired_refresh_tokens_task()
    assert OutstandingToken.objects.filter(user=viewer).count() == 1
    remaining = OutstandingToken.objects.get(user=viewer)
    assert remaining.expires_at > timezone.now()
