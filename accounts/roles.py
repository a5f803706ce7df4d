"""The three roles of the platform and how a user's role is decided.

Roles are Django groups named ``admin``, ``operator`` and ``viewer`` (created by a data migration).
A user's role is the highest group they belong to; superusers count as admin; a user in none of
the groups has no role and may read nothing through the API.
"""

import enum


class Role(enum.IntEnum):
    """Ordered so that a higher role includes everything a lower one may do."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def group_name(self):
        return self.name.lower()

    @classmethod
    def from_name(cls, name):
        """The role called ``name`` ('admin', 'operator', 'viewer'); ValueError for anything else."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}") from None


ROLE_NAMES = [role.group_name for role in Role]


def role_of(user):
    """The user's highest role, or None. Costs one query per user object (the result is cached on it)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_platform_role", False)
    if cached is not False:
        return cached
    names = user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True)
    role = max((Role.from_name(name) for name in names), default=None)
    user._platform_role = role
    return role
