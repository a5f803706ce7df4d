from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api.views import AuditLogView, ChangeLogView, LoginView, LogoutView, MeView, RefreshView, UserViewSet

# No trailing slashes: the paths integrations already call on the original platform.
router = SimpleRouter(trailing_slash=False)
router.register("auth/users", UserViewSet, basename="auth-user")

urlpatterns = [
    path("auth/login", LoginView.as_view(), name="auth-login"),
    path("auth/refresh", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", LogoutView.as_view(), name="auth-logout"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("auth/audit", AuditLogView.as_view(), name="auth-audit"),
    path("auth/changes", ChangeLogView.as_view(), name="auth-changes"),
    *router.urls,
]
