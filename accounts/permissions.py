"""DRF permission classes: the one place where the platform decides who may do what.

The matrix:
- viewer: read everything (wells, telemetry, analytics, diagnostics, alarms);
- operator: viewer + ingest telemetry, run diagnostics, acknowledge alarms, create/update wells;
- admin: operator + delete wells, manage users and roles, backups.

Anonymous requests get 401 (the JWT authenticator supplies the WWW-Authenticate header);
authenticated users without the role get 403 naming the roles that may (``RoleRequired``).

Every API view names what it needs with ``permission_classes``: ``RolePermission`` (with
``required_roles`` per method), ``IsViewer``, ``IsOperator``, ``IsAdmin``, ``IsSignedIn`` for a caller's
own session whatever their role, or DRF's ``AllowAny`` for the sign-in endpoints and the API docs.
tests/accounts/test_permission_matrix.py holds the whole matrix, endpoint by endpoint.
"""

from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts.roles import Role, role_of


class RoleRequired(PermissionDenied):
    """403 for a signed-in caller whose role is too low; ``required_roles`` lists the roles that may."""

    default_code = "role_required"

    def __init__(self, role, held):
        self.required_roles = [other.group_name for other in Role if other >= role]
        needed = "the admin role" if role is Role.ADMIN else f"the {role.group_name} role or a higher one"
        you = f"the {held.group_name} role" if held else "no role"
        super().__init__(f"This needs {needed} ({', '.join(self.required_roles)}); you have {you}.")


class RolePermission(BasePermission):
    """Allows a request when the user's role reaches the one the view names for its HTTP method.

    The view names it with ``required_role`` (one role for every method) or ``required_roles`` (per
    method; HEAD and OPTIONS need what GET needs). A method the view names no role for is refused.
    """

    def required_role(self, request, view):
        """The role this request needs, or None when the view names none for its method."""
        explicit = getattr(view, "required_role", None)
        if explicit is not None:
            return explicit
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        return getattr(view, "required_roles", {}).get(method)

    def has_permission(self, request, view):
        """True when the role suffices; False for an anonymous caller (DRF answers 401); else RoleRequired."""
        role = role_of(request.user)
        needed = self.required_role(request, view)
        if role is not None and needed is not None and role >= needed:
            return True
        if needed is None or not (request.user and request.user.is_authenticated):
            return False  # no role may (DRF's plain 403), or anonymous (401)
        raise RoleRequired(needed, role)


class IsViewer(RolePermission):
    """Any role may call the view, whatever the method (for read-only endpoints that use POST)."""

    def required_role(self, request, view):
        return Role.VIEWER


class IsOperator(RolePermission):
    """Operators and admins, whatever the method."""

    def required_role(self, request, view):
        return Role.OPERATOR


class IsAdmin(RolePermission):
    """Admins only, whatever the method."""

    def required_role(self, request, view):
        return Role.ADMIN


class IsSignedIn(BasePermission):
    """Any signed-in active user, with or without a role: for a caller's own session (me, logout)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)


class ApiDocsPermission(IsViewer):
    """The API schema and its docs pages: open to anyone while ``settings.API_DOCS_PUBLIC`` (the default),
    else to signed-in users with a role (a browser session or a Bearer token)."""

    def has_permission(self, request, view):
        return settings.API_DOCS_PUBLIC or super().has_permission(request, view)
