"""Alarms in the Django admin, for engineers: a filterable alarm list with acknowledge / shelve / unshelve /
clear actions, each alarm's history, what is out of service, and a well's open alarms on its page; for
admins, webhook receivers (the secret never shown but once), notification preferences and the read-only
delivery log.

Alarms are never added or edited by hand here: they change only through the actions, which call the
same transitions as the API (``Alarm.acknowledge`` …), so the history and the rules are the same.

The well page: wells must not import alarms (imports run alarms → wells), so this module re-registers
the Well admin that wells/admin.py registered, as a subclass that adds a read-only "Open alarms" section.
A read-only field rather than an inline: an inline's formset would be posted with every save of the
well, and a well form posted without it would be refused.
"""

import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from alarms import lifecycle
from alarms.models import (
    ALARM_FINDING_FIELDS,
    ALARM_RESPONSE_FIELDS,
    COMMENT_MAX_LENGTH,
    DELIVERY_OUTCOME_FIELDS,
    NOTIFYING_KINDS,
    Alarm,
    AlarmEvent,
    AlarmEventKind,
    AlarmTransitionRefused,
    NotificationDelivery,
    NotificationPreference,
    OutOfService,
    WebhookReceiver,
    generate_webhook_secret,
)
from analytics.models import DiagnosticType
from config.readonly_admin import ReadOnlyModelAdmin
from wells.models import Well


class AlarmTypeFilter(admin.SimpleListFilter):
    title = "alarm type"
    parameter_name = "alarm_type"

    def lookups(self, request, model_admin):
        return DiagnosticType.choices

    def queryset(self, request, queryset):
        return queryset.filter(alarm_type=self.value()) if self.value() else queryset


class AlarmEventInline(admin.TabularInline):
    """The alarm's history, oldest first. Read-only: events are append-only."""

    model = AlarmEvent
    fields = ["at", "kind", "from_state", "to_state", "actor", "comment", "severity", "notify", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class ShelveForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=COMMENT_MAX_LENGTH)
    hours = forms.IntegerField(min_value=1, help_text="The shelve expires after this many hours.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Bounded by the setting as it is now (tests change it), not when this module was imported.
        self.fields["hours"] = forms.IntegerField(
            min_value=1, max_value=settings.ALARM_SHELVE_MAX_HOURS, help_text=self.fields["hours"].help_text
        )


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "well",
        "alarm_type_label",
        "state",
        "peak_severity",
        "occurrence_count",
        "raised_at",
        "last_seen_at",
        "shelved_until",
    ]
    list_display_links = ["id", "alarm_type_label"]
    list_filter = ["state", "peak_severity", AlarmTypeFilter, ("well", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["well__well_id"]
    search_help_text = "Search by well ID."
    date_hierarchy = "raised_at"
    list_select_related = ["well"]
    ordering = ["-raised_at", "-id"]
    actions = ["acknowledge_alarms", "shelve_alarms", "unshelve_alarms", "clear_alarms"]
    inlines = [AlarmEventInline]
    fieldsets = [
        (None, {"fields": ["well", "alarm_type_label", "state", "peak_severity", "last_severity"]}),
        (
            "Condition",
            {
                "fields": [
                    "active",
                    "raised_at",
                    "activated_at",
                    "last_seen_at",
                    "absent_since",
                    "returned_at",
                    "occurrence_count",
                    "reactivation_count",
                    *ALARM_FINDING_FIELDS,
                ]
            },
        ),
        (
            "Response",
            {"fields": ["acknowledged", *ALARM_RESPONSE_FIELDS]},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def has_add_permission(self, request):
        return False  # alarms come from diagnostics

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("well", "acknowledged_by", "shelved_by")

    def changelist_view(self, request, extra_context=None):
        lifecycle.unshelve_expired(now=timezone.now())
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        lifecycle.unshelve_expired(now=timezone.now())
        # Nothing on the page is editable: the actions on the list are how alarms change.
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="alarm type", ordering="alarm_type")
    def alarm_type_label(self, alarm):
        return alarm.alarm_type_label

    def _apply(self, request, alarms, transition, done):
        """Runs ``transition`` on each alarm (each in its own transaction) and reports what happened."""
        changed, refused = 0, []
        for alarm in alarms.select_related("well"):
            try:
                transition(alarm)
                changed += 1
            except AlarmTransitionRefused as refusal:
                refused.append(f"#{alarm.pk} ({alarm.well.well_id}): {refusal.message}")
        if changed:
            self.message_user(request, f"{done} {changed} alarm(s).", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not changed: {reason}", messages.WARNING)

    @admin.action(description="Acknowledge selected alarms", permissions=["change"])
    def acknowledge_alarms(self, request, queryset):
        now = timezone.now()
        self._apply(request, queryset, lambda alarm: alarm.acknowledge(request.user, now=now), "Acknowledged")

    @admin.action(description="Shelve selected alarms…", permissions=["change"])
    def shelve_alarms(self, request, queryset):
        """Asks for the reason and duration on an intermediate page, then shelves."""
        form = ShelveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            now = timezone.now()
            until = now + datetime.timedelta(hours=form.cleaned_data["hours"])
            reason = form.cleaned_data["reason"]
            self._apply(
                request,
                queryset,
                lambda alarm: alarm.shelve(request.user, until=until, reason=reason, now=now),
                "Shelved",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Shelve alarms",
            "opts": self.model._meta,
            "form": form,
            "alarms": queryset.select_related("well"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "max_hours": settings.ALARM_SHELVE_MAX_HOURS,
        }
        return TemplateResponse(request, "admin/alarms/alarm/shelve.html", context)

    @admin.action(description="Unshelve selected alarms", permissions=["change"])
    def unshelve_alarms(self, request, queryset):
        now = timezone.now()
        self._apply(request, queryset, lambda alarm: alarm.unshelve(request.user, now=now), "Unshelved")

    @admin.action(description="Clear selected alarms (manual reset)", permissions=["change"])
    def clear_alarms(self, request, queryset):
        now = timezone.now()
        self._apply(request, queryset, lambda alarm: alarm.clear(request.user, now=now), "Cleared")


class OutOfServiceForm(forms.ModelForm):
    alarm_type = forms.ChoiceField(
        choices=[("", "Every type"), *DiagnosticType.choices], required=False, label="Alarm type"
    )

    class Meta:
        model = OutOfService
        fields = ["well", "alarm_type", "reason", "until"]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("well") and not cleaned.get("alarm_type"):
            raise forms.ValidationError("Choose a well, an alarm type or both.")
        until = cleaned.get("until")
        if until is not None and until <= timezone.now():
            self.add_error("until", "The end must be in the future.")
        return cleaned


@admin.register(OutOfService)
class OutOfServiceAdmin(admin.ModelAdmin):
    """Admins take wells or alarm types out of alarm service here (the role groups decide who may)."""

    form = OutOfServiceForm
    list_display = ["__str__", "reason", "starts_at", "until", "ended_at", "created_by", "suppressed_count", "in_force"]
    list_filter = ["ended_at"]
    search_fields = ["well__well_id", "reason"]
    list_select_related = ["well", "created_by"]
    actions = ["return_to_service"]
    readonly_fields_of_saved = [
        "well",
        "alarm_type",
        "reason",
        "starts_at",
        "until",
        "created_by",
        "ended_at",
        "ended_by",
        "suppressed_count",
        "last_suppressed_at",
    ]

    def get_fields(self, request, obj=None):
        return self.readonly_fields_of_saved if obj else ["well", "alarm_type", "reason", "until"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields_of_saved if obj else []

    @admin.display(boolean=True, description="in force")
    def in_force(self, entry):
        return entry.in_force_at(timezone.now())

    def save_model(self, request, obj, form, change):
        """New entries go through the lifecycle, which also closes the open alarms they cover."""
        if change:
            return
        entry = lifecycle.take_out_of_service(
            well=obj.well,
            alarm_type=obj.alarm_type,
            reason=obj.reason,
            until=obj.until,
            user=request.user,
            now=timezone.now(),
        )
        obj.pk = entry.pk
        obj._state.adding = False

    @admin.action(description="Return selected entries to service", permissions=["change"])
    def return_to_service(self, request, queryset):
        now = timezone.now()
        returned = 0
        for entry in queryset:
            try:
                lifecycle.return_to_service(entry, user=request.user, now=now)
                returned += 1
            except AlarmTransitionRefused as refusal:
                self.message_user(request, f"Not changed: {entry}: {refusal.message}", messages.WARNING)
        if returned:
            self.message_user(request, f"Returned {returned} entr{'y' if returned == 1 else 'ies'} to service.")


def open_alarms_of(well):
    """An HTML table of the well's open alarms, linking to each and to the filtered alarm list."""
    if well is None or well.pk is None:
        return "—"
    alarms = list(Alarm.objects.open().filter(well=well).order_by("-raised_at", "-id"))
    listing = reverse("admin:alarms_alarm_changelist") + f"?well__id__exact={well.pk}"
    if not alarms:
        return format_html('None. <a href="{}">All alarms of this well</a>', listing)
    rows = format_html_join(
        "",
        '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:alarms_alarm_change", args=[alarm.pk]),
                alarm.pk,
                alarm.alarm_type_label,
                alarm.get_state_display(),
                alarm.get_peak_severity_display(),
                f"{alarm.raised_at:%Y-%m-%d %H:%M}",
                alarm.occurrence_count,
            )
            for alarm in alarms
        ),
    )
    return format_html(
        "<table><thead><tr><th>alarm</th><th>type</th><th>state</th><th>severity</th><th>raised (UTC)</th>"
        '<th>count</th></tr></thead><tbody>{}</tbody></table><a href="{}">All alarms of this well</a>',
        rows,
        listing,
    )


_registered_well_admin = type(admin.site.get_model_admin(Well))


class WellAdminWithAlarms(_registered_well_admin):
    """The wells app's admin, plus the well's open alarms on its page."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Open alarms", {"fields": ["open_alarms"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "open_alarms"]

    @admin.display(description="open alarms")
    def open_alarms(self, well):
        return open_alarms_of(well)


admin.site.unregister(Well)
admin.site.register(Well, WellAdminWithAlarms)


# --- Notifications -----------------------------------------------------------------------------------


class NotifyingKindsField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        choices = [(kind, AlarmEventKind(kind).label) for kind in NOTIFYING_KINDS]
        super().__init__(choices=choices, widget=forms.CheckboxSelectMultiple, **kwargs)

    def clean(self, value):
        chosen = super().clean(value)
        return [kind for kind in NOTIFYING_KINDS if kind in chosen]


class WebhookReceiverForm(forms.ModelForm):
    """Everything but the secret, which is generated on add and shown once (and by "Generate new secrets")."""

    kinds = NotifyingKindsField(label="Events")

    class Meta:
        model = WebhookReceiver
        fields = ["name", "url", "active", "min_severity", "kinds", "field", "wells"]


@admin.register(WebhookReceiver)
class WebhookReceiverAdmin(admin.ModelAdmin):
    form = WebhookReceiverForm
    list_display = ["name", "url", "active", "min_severity", "field", "updated_at"]
    list_filter = ["active", "min_severity"]
    search_fields = ["name", "url", "field"]
    filter_horizontal = ["wells"]
    actions = ["generate_new_secrets"]

    def _show_secret_once(self, request, receiver):
        self.message_user(
            request,
            f"Secret of {receiver.name} (HMAC-SHA256 key for X-ESP-Signature), shown this once: {receiver.secret}",
            messages.WARNING,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self._show_secret_once(request, obj)

    @admin.action(description="Generate new secrets for the selected receivers", permissions=["change"])
    def generate_new_secrets(self, request, queryset):
        for receiver in queryset:
            receiver.secret = generate_webhook_secret()
            receiver.save(update_fields=["secret", "updated_at"])
            self._show_secret_once(request, receiver)


class NotificationPreferenceForm(forms.ModelForm):
    kinds = NotifyingKindsField(label="Events")

    class Meta:
        model = NotificationPreference
        fields = ["user", "email", "min_severity", "kinds"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Who wants alarm e-mail. Users set their own through the API; admins may change them here."""

    form = NotificationPreferenceForm
    list_display = ["user", "email", "min_severity", "updated_at"]
    list_filter = ["email", "min_severity"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyModelAdmin):
    """The delivery log: read-only, as the workers wrote it."""

    list_display = [
        "id",
        "alarm_link",
        "event_kind",
        "channel",
        "recipient",
        "status",
        "attempts",
        "response_code",
        "created_at",
        "last_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["recipient", "event__alarm__well__well_id"]
    search_help_text = "Search by recipient or well ID."
    list_select_related = ["event__alarm__well"]
    date_hierarchy = "created_at"
    fields = [
        "alarm_link",
        "event_kind",
        "channel",
        "recipient",
        "user",
        "webhook",
        *DELIVERY_OUTCOME_FIELDS,
        "payload",
    ]
    readonly_fields = fields

    @admin.display(description="alarm")
    def alarm_link(self, delivery):
        alarm = delivery.event.alarm
        url = reverse("admin:alarms_alarm_change", args=[alarm.pk])
        return format_html('<a href="{}">#{} {} {}</a>', url, alarm.pk, alarm.well.well_id, alarm.alarm_type_label)

    @admin.display(description="event", ordering="event__kind")
    def event_kind(self, delivery):
        return delivery.event.get_kind_display()
