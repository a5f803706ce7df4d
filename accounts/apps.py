"""Users, roles (admin / operator / viewer), sign-in and the audit trail."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Connect the receivers that revoke tokens and audit account changes made anywhere.
        from accounts import signals  # noqa: F401
