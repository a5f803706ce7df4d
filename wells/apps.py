"""The registry of producing wells and their ESP strings."""

from django.apps import AppConfig


class WellsConfig(AppConfig):
    name = "wells"
    verbose_name = "Wells"
    # Django admin rights of the roles (accounts.admin_access), as in the API: every role sees the
    # wells, operators also add and edit them, admins also delete them.
    operator_editable_models = ["well"]
    # Every change to a well (its pump, thresholds, status) is in the change audit trail (accounts.changes).
    audited_models = ["well"]
