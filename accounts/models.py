"""The sign-in audit trail and the per-user counter that revokes every token a user holds.

Users themselves are Django's ``auth.User``; their role is a group (see ``accounts.roles``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuthEventKind(models.TextChoices):
    LOGIN_SUCCESS = "login_success", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in refused"
    LOGOUT = "logout", "Signed out"
    REFRESH = "refresh", "Tokens refreshed"
    TOKEN_REVOKED = "token_revoked", "All tokens revoked"
    USER_CREATED = "user_created", "User created"
    ROLE_CHANGED = "role_changed", "Role changed"
    USER_DEACTIVATED = "user_deactivated", "User deactivated"
    PASSWORD_CHANGED = "password_changed", "Password changed"


class AuthEventQuerySet(models.QuerySet):
    def matching(self, *, username=None, event=None, since=None, until=None):
        """Events about ``username``, of kind ``event``, in [since, until); None skips that filter."""
        events = self
        if username:
            events = events.filter(username=username)
        if event:
            events = events.filter(event=event)
        if since:
            events = events.filter(timestamp__gte=since)
        if until:
            events = events.filter(timestamp__lt=until)
        return events


class AuthEvent(models.Model):
    """One security-relevant thing that happened to an account: a sign-in, a refused sign-in, a sign-out,
    a token refresh or revocation, or an administrator creating, re-roling, deactivating a user or
    changing their password.

    Rows are written by ``accounts.audit.record`` and never edited. They hold no passwords and no tokens.
    """

    event = models.CharField(max_length=32, choices=AuthEventKind.choices)
    username = models.CharField(
        max_length=150,
        help_text="The account the event is about; for a refused sign-in, the name as it was typed.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="auth_events",
        help_text="The account, when it exists.",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="auth_actions",
        help_text="Who did it: the user for their own sign-in, an administrator for changes, empty for "
        "anonymous callers and management commands.",
    )
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True, help_text="Why or what changed, e.g. the old and new role.")

    objects = AuthEventQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["-timestamp"], name="auth_event_time"),
            models.Index(fields=["username", "-timestamp"], name="auth_event_username_time"),
            models.Index(fields=["event", "-timestamp"], name="auth_event_kind_time"),
        ]

    def __str__(self):
        return f"{self.get_event_display()}: {self.username} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class TokenEpoch(models.Model):
    """How many times all of one user's tokens have been revoked.

    Every access token carries the epoch its user was in when it was issued; a token from an older
    epoch is refused. Revoking (deactivation, password change, "sign out everywhere") bumps the
    counter. A counter rather than a "valid after" timestamp because JWT ``iat`` has whole-second
    resolution: a token issued in the same second as a revocation would be ambiguous.
    A user without a row is in epoch 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="token_epoch"
    )
    epoch = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="When the user's tokens were last revoked.")

    def __str__(self):
        return f"{self.user} epoch {self.epoch}"


class LoggedOutAccessToken(models.Model):
    """An access token its holder signed out with: refused from then until it expires on its own.

    PostgreSQL keeps these rather than Redis, so neither a Redis outage nor a Redis restart without
    persistence brings a logged-out token back. Authentication reads the row in the same query that
    loads the user (``accounts.authentication``), so the check costs no extra round trip. Rows past
    ``expires_at`` guard nothing and are deleted daily.
    """

    jti = models.CharField("token id", max_length=255, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True, help_text="When the token would have expired anyway.")
    logged_out_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.user} logged out token {self.jti}"
