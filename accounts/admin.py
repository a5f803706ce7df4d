"""Django admin for accounts: users with their role shown and settable, and the read-only audit log."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts import tokens, users
from accounts.models import AuthEvent
from accounts.roles import ROLE_NAMES, Role, account_role, users_with_role

User = get_user_model()

ROLE_CHOICES = [("", "No role: can't use the API")] + [(role.group_name, role.group_name) for role in reversed(Role)]
ROLE_HELP = (
    "viewer: reads wells, telemetry, analytics, diagnostics and alarms. "
    "operator: viewer + ingests telemetry, runs diagnostics, acknowledges alarms, creates and edits wells. "
    "admin: operator + deletes wells, manages users and roles, backups. A superuser is always an admin."
)


def role_field():
    return forms.ChoiceField(choices=ROLE_CHOICES, required=False, help_text=ROLE_HELP)


class RoleFormMixin:
    """The behaviour of the "role" select of a user form; the groups widget then offers only groups
    that aren't roles."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = account_role(self.instance) if self.instance.pk else None
        self.fields["role"].initial = current.group_name if current else ""
        if "groups" in self.fields:
            self.fields["groups"].queryset = self.fields["groups"].queryset.exclude(name__in=ROLE_NAMES)

    def clean_groups(self):
        # Keep the role group the user is in: the role select, not this widget, changes it (after saving).
        selected = list(self.cleaned_data["groups"])
        if self.instance.pk:
            selected += list(self.instance.groups.filter(name__in=ROLE_NAMES))
        return selected

    def clean(self):
        cleaned = super().clean()
        is_superuser = cleaned.get("is_superuser", self.instance.is_superuser)
        if is_superuser and cleaned.get("role") != Role.ADMIN.group_name:
            self.add_error("role", "A superuser is always an admin: choose admin, or untick superuser status.")
        return cleaned


class UserWithRoleChangeForm(RoleFormMixin, UserChangeForm):
    role = role_field()


class UserWithRoleCreationForm(RoleFormMixin, AdminUserCreationForm):
    role = role_field()


class RoleListFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [*[(role.group_name, role.group_name) for role in reversed(Role)], ("none", "no role")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return users_with_role(queryset, None)
        if self.value() in ROLE_NAMES:
            return users_with_role(queryset, Role.from_name(self.value()))
        return queryset


admin.site.unregister(User)


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    """Django's user admin with the platform role in the list, the filters and at the top of the form."""

    form = UserWithRoleChangeForm
    add_form = UserWithRoleCreationForm
    list_display = ["username", "role", "email", "is_active", "is_staff", "last_login"]
    list_filter = [RoleListFilter, "is_active", "is_staff", "is_superuser"]
    actions = ["revoke_tokens"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Platform role", {"fields": ["role", "is_active"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        (
            "Django admin access",
            {
                "fields": ["is_staff", "is_superuser", "groups", "user_permissions"],
                "description": "Who may sign in to this admin and what they may edit here. "
                "API access is decided by the role above.",
            },
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "role", "usable_password", "password1", "password2"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, user):
        role = account_role(user)
        return role.group_name if role else "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role = form.cleaned_data.get("role")
        users.set_role(form.instance, Role.from_name(role) if role else None, request=request)

    @admin.action(description="Sign out everywhere (revoke all their API tokens)")
    def revoke_tokens(self, request, queryset):
        for user in queryset:
            tokens.revoke_all_tokens(user, reason="revoked in Django admin")
        self.message_user(request, f"Revoked the tokens of {len(queryset)} user(s).", messages.SUCCESS)


@admin.register(AuthEvent)
class AuthEventAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody edits or deletes history from here."""

    list_display = ["timestamp", "event", "username", "actor", "ip_address", "user_agent"]
    list_filter = ["event", "timestamp"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "timestamp"
    list_select_related = ["actor"]
    show_full_result_count = False  # the table only grows; don't COUNT(*) it twice per page
    readonly_fields = [field.name for field in AuthEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
