"""Issuing, rotating and revoking the JWTs that API callers sign in with.

- An access token (``ACCESS_TOKEN_LIFETIME``, 15 min by default) authenticates API calls. It carries
  the user's token epoch (``accounts.models.TokenEpoch``); one from an older epoch is refused.
- A refresh token (``REFRESH_TOKEN_LIFETIME``, 7 days) buys a new pair once: it is blacklisted when
  used (simplejwt's token_blacklist app), so presenting it again fails.
- Logging out records the access token's id in PostgreSQL (``LoggedOutAccessToken``) until the token
  would have expired anyway, and blacklists the refresh token. Redis plays no part: a Redis outage or
  flush can neither block authentication nor bring a logged-out token back.
- Revoking all of a user's tokens bumps their epoch (every access token dies at once) and blacklists
  every refresh token they still hold.
"""

import dataclasses
import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts import audit
from accounts.models import AuthEventKind, LoggedOutAccessToken, TokenEpoch

EPOCH_CLAIM = "epoch"


@dataclasses.dataclass(frozen=True)
class TokenPair:
    """What a caller gets on sign-in or refresh; ``expires_in`` is the access token's lifetime in seconds."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (the auth scheme name, not a secret)


def access_token_lifetime_seconds():
    return int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())


def current_epoch(user):
    """The user's token epoch; uses ``user.token_epoch`` when it was loaded with select_related."""
    try:
        return user.token_epoch.epoch
    except TokenEpoch.DoesNotExist:
        return 0


def issue_tokens(user):
    """A fresh access and refresh token for ``user``. Records the refresh token as outstanding."""
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    access[EPOCH_CLAIM] = current_epoch(user)
    return TokenPair(access_token=str(access), refresh_token=str(refresh), expires_in=access_token_lifetime_seconds())


def read_refresh_token(raw):
    """The verified claims of a refresh token (signature, expiry, type; not the blacklist).

    Raises ``ExpiredTokenError`` for an expired one and ``TokenError`` for anything else that is wrong.
    """
    token = UntypedToken(raw)
    if token.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise TokenError("Token has wrong type")
    return token


def spend_refresh_token(jti):
    """Blacklists the refresh token ``jti``; True when this call spent it, False when it already was spent.

    The unique constraint on the blacklist makes this safe against two concurrent refreshes of one token:
    only one of them gets True.
    """
    outstanding = OutstandingToken.objects.filter(jti=jti).first()
    if outstanding is None:
        return False
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created


def rotate(raw_refresh_token):
    """Spends a refresh token and returns the user and a new ``TokenPair``.

    Raises ``TokenError`` when the token is invalid, expired, already used, or its user is gone or
    inactive.
    """
    claims = read_refresh_token(raw_refresh_token)
    if not spend_refresh_token(claims[api_settings.JTI_CLAIM]):
        raise TokenError("Token is blacklisted")
    user = (
        get_user_model()
        .objects.select_related("token_epoch")
        .filter(**{api_settings.USER_ID_FIELD: claims.get(api_settings.USER_ID_CLAIM), "is_active": True})
        .first()
    )
    if user is None:
        raise TokenError("Token user is unknown or inactive")
    return user, issue_tokens(user)


def log_out(user, access_token, raw_refresh_token):
    """Ends one sign-in of ``user``: the access token (None for a browser session) and the refresh token
    stop working now.

    An expired refresh token is already useless and is left alone. Raises ``TokenError``, changing
    nothing, when the refresh token is forged or belongs to someone else.
    """
    try:
        claims = read_refresh_token(raw_refresh_token)
    except ExpiredTokenError:
        claims = None
    if claims is not None and str(claims.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise TokenError("Token belongs to another user")
    if access_token is not None:
        deny_access_token(access_token)
    if claims is not None:
        spend_refresh_token(claims[api_settings.JTI_CLAIM])


def deny_access_token(access_token):
    """Refuses ``access_token`` from now until its expiry (after which it is refused anyway)."""
    expires_at = datetime.datetime.fromtimestamp(access_token["exp"], tz=datetime.UTC)
    if expires_at > timezone.now():
        LoggedOutAccessToken.objects.get_or_create(
            jti=access_token[api_settings.JTI_CLAIM],
            defaults={"user_id": access_token[api_settings.USER_ID_CLAIM], "expires_at": expires_at},
        )


def is_current(access_token, epoch):
    """True unless its user's tokens were revoked after this one was issued (``epoch``: the user's now)."""
    return access_token.get(EPOCH_CLAIM) == epoch


def revoke_all_tokens(user, *, reason):
    """Makes every token ``user`` holds stop working now; records a ``token_revoked`` event.

    ``reason`` says why in the audit log (e.g. "password_changed"). Returns how many refresh tokens
    were blacklisted.
    """
    now = timezone.now()
    with transaction.atomic():
        TokenEpoch.objects.get_or_create(user=user)
        TokenEpoch.objects.filter(user=user).update(epoch=F("epoch") + 1, revoked_at=now)
        unspent = OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True)
        blacklisted = BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in unspent], ignore_conflicts=True
        )
    # The cached epoch on this instance is stale now.
    user._state.fields_cache.pop("token_epoch", None)
    audit.record(AuthEventKind.TOKEN_REVOKED, user=user, details={"reason": reason, "refresh_tokens": len(blacklisted)})
    return len(blacklisted)


def delete_expired_logouts():
    """Forget logged-out access tokens past their expiry (refused on expiry alone); returns how many. Daily."""
    deleted, _ = LoggedOutAccessToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
