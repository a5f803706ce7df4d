"""The registry of producing wells and their ESP strings."""

from django.apps import AppConfig


class WellsConfig(AppConfig):
    name = "wells"
    verbose_name = "Wells"
