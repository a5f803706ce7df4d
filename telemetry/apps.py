"""Pump readings: storage, ingestion over HTTP and MQTT, raw query and export."""

from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    verbose_name = "Telemetry"
    # Django admin rights of the roles (accounts.admin_access): every role sees readings; nobody edits
    # them by hand (they arrive through ingestion; the admin only shows them).
    operator_editable_models = []
