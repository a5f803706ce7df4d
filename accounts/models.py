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


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"


class ChangeChannel(models.TextChoices):
    API = "api", "REST API"
    ADMIN = "admin", "Django admin"
    DASHBOARD = "dashboard", "Dashboards"
    SYSTEM = "system", "Task or command"


class ChangeEventQuerySet(models.QuerySet):
    def matching(self, *, model=None, object_id=None, actor=None, action=None, via=None, since=None, until=None):
        """Changes to ``model`` (app_label.model), to one object, by one username, of one action, through one
        channel, in [since, until); None skips that filter."""
        changes = self
        if action:
            changes = changes.filter(action=action)
        if model:
            changes = changes.filter(model=model)
        if object_id:
            changes = changes.filter(object_id=object_id)
        if actor:
            changes = changes.filter(actor_username=actor)
        if via:
            changes = changes.filter(via=via)
        if since:
            changes = changes.filter(timestamp__gte=since)
        if until:
            changes = changes.filter(timestamp__lt=until)
        return changes


class ChangeEvent(models.Model):
    """One change to a record people care about — a well, an alarm action, a user or role, a notification
    receiver, a backup — with who made it, when, from where and the fields before and after.

    Written only by ``accounts.changes``; a database trigger refuses UPDATE, and DELETE outside the
    retention job (``accounts.changes.prune``). Secrets and password hashes are never copied in.
    """

    timestamp = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    model = models.CharField(max_length=100, help_text="app_label.model, e.g. wells.well.")
    object_id = models.CharField(max_length=255)
    object_repr = models.CharField(max_length=200)
    # The name is kept as typed then, so the trail still reads after the account is renamed or removed.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes_made"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=12, choices=ChangeChannel.choices)
    request_method = models.CharField(max_length=10, blank=True)
    request_path = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    before = models.JSONField(null=True, blank=True, help_text="The changed fields before; empty for a creation.")
    after = models.JSONField(null=True, blank=True, help_text="The changed fields after; empty for a deletion.")

    objects = ChangeEventQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["-timestamp"], name="change_event_time"),
            models.Index(fields=["model", "object_id", "-timestamp"], name="change_event_object_time"),
            models.Index(fields=["actor_username", "-timestamp"], name="change_event_actor_time"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.model} {self.object_repr} at {self.timestamp:%Y-%m-%d %H:%M:%S}"
