"""Server-rendered dashboards for managers and engineers. No models: it reads the other apps' data."""

from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"

    def ready(self):
        # The admin has imported every app's admin module by now (it is installed first): order its index.
        from django.contrib import admin

        from dashboards.admin import order_admin_index

        order_admin_index(admin.site)
