"""Demo users for a development machine: one per role, with freshly generated passwords.

The passwords are printed by the caller once and stored nowhere else; running the loader again
generates new ones.
"""

import secrets

from django.contrib.auth.models import User

from accounts.roles import Role
from accounts.users import set_role


def reset_demo_users():
    """Create or reset the users admin, operator and viewer; returns {username: password}."""
    credentials = {}
    for role in reversed(Role):
        username = role.group_name
        password = secrets.token_urlsafe(12)
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        # Every role opens the Django admin with its own rights; the demo admin is also a superuser.
        user.is_superuser = role is Role.ADMIN
        user.save()
        set_role(user, role)
        credentials[username] = password
    return credentials
