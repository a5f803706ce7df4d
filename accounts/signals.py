"""Reactions to account changes made anywhere: the users API, Django admin, ``manage.py changepassword``,
the demo loader or a shell.

- A password change or a deactivation revokes every token the user holds and is audited. Doing this
  on save rather than in the API keeps the guarantee for every path that changes a user.
  (Queryset ``update()`` bypasses signals: don't deactivate users that way.)
- A new user is audited as ``user_created``.
- Browser sign-ins to Django admin are audited like API sign-ins.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts import audit, tokens
from accounts.models import AuthEventKind

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="accounts_note_account_changes")
def note_account_changes(sender, instance, raw, update_fields, **kwargs):
    """Notes on the instance whether this save changes the password or deactivates the user."""
    # set_password() keeps the raw password in _password until the save; a hasher upgrade at sign-in
    # (check_password's setter) clears it first, so re-hashing the same password doesn't count.
    instance._accounts_password_changed = not raw and instance._password is not None
    instance._accounts_deactivated = False
    if raw or instance.pk is None:
        return
    may_deactivate = (update_fields is None or "is_active" in update_fields) and not instance.is_active
    # set_unusable_password() (admin's "disable password-based authentication") bypasses _password.
    may_disable_password = (update_fields is None or "password" in update_fields) and not instance.has_usable_password()
    if may_deactivate or may_disable_password:
        stored = User.objects.filter(pk=instance.pk).values("is_active", "password").first() or {}
        instance._accounts_deactivated = may_deactivate and stored.get("is_active", False)
        if may_disable_password and is_password_usable(stored.get("password")):
            instance._accounts_password_changed = True


@receiver(post_save, sender=User, dispatch_uid="accounts_react_to_account_changes")
def react_to_account_changes(sender, instance, created, raw, **kwargs):
    if raw:
        return
    if created:
        audit.record(AuthEventKind.USER_CREATED, user=instance)
        return
    reasons = []
    if instance._accounts_password_changed:
        audit.record(AuthEventKind.PASSWORD_CHANGED, user=instance)
        reasons.append("password_changed")
    if instance._accounts_deactivated:
        audit.record(AuthEventKind.USER_DEACTIVATED, user=instance)
        reasons.append("deactivated")
    if reasons:
        tokens.revoke_all_tokens(instance, reason=" and ".join(reasons))
    instance._accounts_password_changed = instance._accounts_deactivated = False


@receiver(user_logged_in, dispatch_uid="accounts_audit_session_login")
def audit_session_login(sender, request, user, **kwargs):
    audit.record(AuthEventKind.LOGIN_SUCCESS, user=user, actor=user, request=request, details={"via": "session"})


@receiver(user_login_failed, dispatch_uid="accounts_audit_session_login_failure")
def audit_session_login_failure(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in ``credentials``; only the username is kept.
    audit.record(
        AuthEventKind.LOGIN_FAILED,
        username=str(credentials.get("username", "")),
        request=request,
        details={"reason": "bad_credentials", "via": "session"},
    )
