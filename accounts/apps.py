"""Users, roles (admin / operator / viewer), sign-in and the audit trail."""

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    # The change audit trail (accounts.changes): users and roles always; periodic tasks when people edit
    # them (beat saves their run counters on every run).
    audited_models = ["auth.user", "auth.group"]
    audited_models_changed_by_people = ["django_celery_beat.periodictask"]

    def ready(self):
        # Importing signals connects the receivers that revoke tokens and audit account changes made anywhere.
        from accounts import admin_access, changes, signals  # noqa: F401

        changes.connect()

        # Every migrate gives the role groups the Django admin rights that match their API rights, for
        # every app including ones added later, and makes role holders staff (see accounts.admin_access).
        post_migrate.connect(admin_access.grant_role_permissions, dispatch_uid="accounts_grant_role_permissions")
        post_migrate.connect(
            admin_access.make_role_holders_staff, sender=self, dispatch_uid="accounts_make_role_holders_staff"
        )
        checks.register(admin_access.check_role_declarations)
