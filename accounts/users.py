"""Managing accounts: creating users with a role, changing roles, deactivating, setting passwords.

Used by the users API and by Django admin, so both leave the same audit trail. Deactivation and
password changes revoke the user's tokens wherever they happen (see ``accounts.signals``); role
changes take effect on the user's next request because the role is read from the database each time.
A role also opens the Django admin to the user (``set_role``), with the rights of ``accounts.admin_access``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import audit, throttling
from accounts.models import AuthEventKind
from accounts.roles import ROLE_NAMES, Role, account_role, forget_cached_role


def _role_name(role):
    return role.group_name if role is not None else None


def check_role_allowed(user, role):
    """Raises ``ValidationError`` when ``role`` can't be given to ``user``: superusers are always admins."""
    if user.is_superuser and role is not Role.ADMIN:
        raise ValidationError(
            "A superuser always acts as an admin. Remove superuser status in Django admin first.", code="superuser"
        )


def set_role(user, role, *, request=None):
    """Puts ``user`` in the group of ``role`` (None: no role) and out of the other role groups.

    A role comes with access to the Django admin (``is_staff``), where the role group's permissions
    decide what the user may see and edit (``accounts.admin_access``); taking the role away takes
    that access away too, except from a superuser. Records ``role_changed`` with the old and new role
    when the role changes.
    """
    previous = account_role(user)
    with transaction.atomic():
        _give_admin_access_with_role(user, role, previous)
        if role == previous:
            return
        user.groups.remove(*Group.objects.filter(name__in=ROLE_NAMES))
        if role is not None:
            user.groups.add(Group.objects.get(name=role.group_name))
    forget_cached_role(user)
    audit.record(
        AuthEventKind.ROLE_CHANGED,
        user=user,
        request=request,
        details={"from": _role_name(previous), "to": _role_name(role)},
    )


def _give_admin_access_with_role(user, role, previous):
    if role is not None:
        is_staff = True
    elif previous is not None:
        is_staff = user.is_superuser
    else:  # no role before or after: staff status is someone else's decision (e.g. a custom group)
        return
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


def create_user(*, username, password, role, email="", request=None):
    """A new active user with ``role``. The password must already have passed the validators."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        set_role(user, role, request=request)
    return user


def update_user(user, *, role=None, is_active=None, password=None, email=None, request=None):
    """Applies the changes given (None leaves a value alone); returns the user.

    Deactivating or setting a password revokes every token the user holds (``accounts.signals``).
    Re-activating or setting a password also lifts a sign-in lock on the username.
    """
    with transaction.atomic():
        changed = []
        if email is not None and email != user.email:
            user.email = email
            changed.append("email")
        if is_active is not None and is_active != user.is_active:
            user.is_active = is_active
            changed.append("is_active")
        if password is not None:
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
        if role is not None:
            set_role(user, role, request=request)
    if is_active or password is not None:
        throttling.forget_failures(user.get_username())
    return user
