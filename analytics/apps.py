"""Rollups, scores, diagnostics and dashboards built on telemetry."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"
    # Django admin rights of the roles (accounts.admin_access): every role sees diagnostic results;
    # they are computed, so operators edit none of them.
    operator_editable_models = []

    def ready(self):
        from analytics import checks  # noqa: F401 (registers the system check)
