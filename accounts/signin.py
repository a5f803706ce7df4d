"""Signing in to the API with a username and password: throttle, check, audit, issue tokens."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login

from accounts import audit, throttling, tokens
from accounts.models import AuthEventKind


class SignInRefused(Exception):
    """Wrong password, unknown user or inactive account: the caller is told the same for all three."""


class SignInThrottled(Exception):
    """Too many refused sign-ins for this username or IP; ``retry_after`` is in seconds."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


def check_credentials(username, password):
    """(user, None) for the active user with these credentials, else (None, why) for the audit log.

    Costs one password hash whether or not the user exists, so the response time doesn't tell an
    attacker which usernames are real.
    """
    User = get_user_model()
    try:
        user = User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        User().set_password(password)  # the same hashing work a real check would do
        return None, "unknown_user"
    if not user.check_password(password):
        return None, "wrong_password"
    if not user.is_active:
        return None, "inactive"
    return user, None


def sign_in(request, username, password):
    """Signs ``username`` in; returns (user, ``tokens.TokenPair``).

    Raises ``SignInThrottled`` while the username or the caller's IP is locked (see
    ``accounts.throttling``) and ``SignInRefused`` for bad credentials. Every outcome is audited.
    """
    ip = audit.client_ip(request) or "unknown"
    retry_after = throttling.seconds_until_allowed(username, ip)
    if retry_after:
        # Once per lock, so that a caller hammering a locked account can't flood the audit table.
        if throttling.first_attempt_during_lock(username, ip, retry_after):
            audit.record(
                AuthEventKind.LOGIN_FAILED,
                username=username,
                request=request,
                details={"reason": "throttled", "retry_after": retry_after},
            )
        raise SignInThrottled(retry_after)

    user, reason = check_credentials(username, password)
    if user is None:
        throttling.record_failure(username, ip)
        audit.record(AuthEventKind.LOGIN_FAILED, username=username, request=request, details={"reason": reason})
        raise SignInRefused

    throttling.record_success(username, ip)
    update_last_login(None, user)
    issued = tokens.issue_tokens(user)
    audit.record(AuthEventKind.LOGIN_SUCCESS, user=user, actor=user, request=request)
    return user, issued
