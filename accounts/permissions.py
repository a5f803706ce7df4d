"""DRF permission classes: the one place where the platform decides who may do what.

The matrix:
- viewer: read everything (wells, telemetry, analytics, diagnostics, alarms);
- operator: viewer + ingest telemetry, run diagnostics, acknowledge alarms, create/update wells;
- admin: operator + delete wells, manage users and roles, backups.

Anonymous requests get 401 (the JWT authenticator supplies the WWW-Authenticate header);
authenticated users without the role get 403.

Every API view names what it needs with ``permission_classes``: ``RolePermission`` (with
``required_roles`` per method), ``IsViewer``, ``IsOperator``, ``IsAdmin``, ``IsSignedIn`` for a caller's
own session whatever their role, or DRF's ``AllowAny`` for the sign-in endpoints and the API docs.
tests/accounts/test_permission_matrix.py holds the whole matrix, endpoint by endpoint.
"""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import Role, role_of


class RolePermission(BasePermission):
    """Allows a request when the user's role reaches the one required for its HTTP method.

    By default reads need a viewer, writes an operator and deletes an admin; a view narrows this
    with ``required_role`` (one role for every method) or ``required_roles`` (per method).
    """

    default_roles = {"DELETE": Role.ADMIN}
    read_role = Role.VIEWER
    write_role = Role.OPERATOR

    def required_role(self, request, view):
        explicit = getattr(view, "required_role", None)
        if explicit is not None:
            return explicit
        per_method = getattr(view, "required_roles", {})
        if request.method in per_method:
            return per_method[request.method]
        if request.method in self.default_roles:
            return self.default_roles[request.method]
        return self.read_role if request.method in SAFE_METHODS else self.write_role

    def has_permission(self, request, view):
        role = role_of(request.user)
        return role is not None and role >= self.required_role(request, view)


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
