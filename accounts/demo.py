"""Demo users for a development machine: one per role, with freshly generated passwords.

The passwords are printed by the caller once and stored nowhere else; running the loader again
generates new ones.
"""

import secrets

from django.contrib.auth.models import Group, User

from accounts.roles import Role


def reset_demo_users():
    """Create or reset the users admin, operator and viewer; returns {username: password}."""
    credentials = {}
    for role in reversed(Role):
        username = role.group_name
        password = secrets.token_urlsafe(12)
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        # The demo admin may also use the Django admin; operators and viewers use the API and dashboards.
        user.is_staff = user.is_superuser = role is Role.ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role.group_name)])
        credentials[username] = password
    return credentials
