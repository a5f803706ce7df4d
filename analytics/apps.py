"""Rollups, scores, diagnostics and dashboards built on telemetry."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"
