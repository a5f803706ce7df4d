"""Users, roles (admin / operator / viewer), sign-in and the audit trail."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
