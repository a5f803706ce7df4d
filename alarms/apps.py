"""Alarms raised from diagnostic findings: ISA-18.2 lifecycle, KPIs, API and admin."""

from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"
    # Django admin rights of the roles (accounts.admin_access): every role sees alarms, their history and
    # what is out of service; operators also change alarms (the acknowledge / shelve / unshelve / clear
    # actions; alarms are never added by hand, and only admins delete); taking things out of service is
    # for admins, as in the API.
    operator_editable_models = ["alarm"]
    # Who gets notified, the receivers' addresses and the delivery log are the admins' (as in the API).
    admin_only_models = ["notificationpreference", "webhookreceiver", "notificationdelivery"]
    # The change audit trail (accounts.changes): who set what out of service and who gets notified, always;
    # alarms when a person acts on them (their machine-made steps are AlarmEvents).
    audited_models = ["outofservice", "notificationpreference", "webhookreceiver"]
    audited_models_changed_by_people = ["alarm"]

    def ready(self):
        from alarms.lifecycle import on_diagnostics_ran
        from analytics.diagnostics.signals import diagnostics_ran

        diagnostics_ran.connect(on_diagnostics_ran, dispatch_uid="alarms.on_diagnostics_ran")
