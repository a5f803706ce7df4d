"""Server-rendered dashboards for managers and engineers. No models: it reads the other apps' data."""

from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"
