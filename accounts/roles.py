"""The three roles of the platform and how a user's role is decided.

Roles are Django groups named ``admin``, ``operator`` and ``viewer`` (created by a data migration).
A user's role is the highest group they belong to; superusers count as admin; a user in none of
the groups has no role and may read nothing through the API.
"""

import enum

from django.db.models import Q


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
    """The user's highest role, or None. Costs one query per user object (the result is cached on it),
    none when the users were loaded with ``prefetch_related("groups")``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_platform_role", False)
    if cached is not False:
        return cached
    return remember_role(user, [group.name for group in user.groups.all()])


def highest_role(group_names):
    """The highest role among these group names; None when none of them is a role."""
    return max((Role.from_name(name) for name in group_names if name in ROLE_NAMES), default=None)


def remember_role(user, group_names):
    """Caches on the user object the role their ``group_names`` give, for ``role_of``; returns it.

    For code that already read the user's groups (e.g. token authentication) and wants to spare
    ``role_of`` its query.
    """
    user._platform_role = highest_role(group_names)
    return user._platform_role


def account_role(user):
    """The role the account holds: admin for a superuser, else its highest role group; None for none.

    Unlike ``role_of`` (what the user may do right now) it is kept while the account is inactive: it is
    the role they get back on re-activation. Free when groups were prefetched.
    """
    if user.is_superuser:
        return Role.ADMIN
    return highest_role(group.name for group in user.groups.all())


def forget_cached_role(user):
    """Drops the role ``role_of`` cached on this user object (after their groups changed)."""
    user.__dict__.pop("_platform_role", None)
    getattr(user, "_prefetched_objects_cache", {}).pop("groups", None)


def users_with_role(users, role):
    """The users in queryset ``users`` whose role is ``role`` (None: users with no role)."""
    if role is None:
        return users.filter(is_superuser=False).exclude(groups__name__in=ROLE_NAMES)
    if role is Role.ADMIN:
        return users.filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.group_name)).distinct()
    higher = [other.group_name for other in Role if other > role]
    return users.filter(is_superuser=False, groups__name=role.group_name).exclude(groups__name__in=higher).distinct()
