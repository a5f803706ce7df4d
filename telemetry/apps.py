"""Pump readings: storage, ingestion over HTTP and MQTT, raw query and export."""

from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    verbose_name = "Telemetry"
