"""Django admin for accounts: users with their role shown and settable, groups, and the read-only audit log.

Users with a role are staff, and their role group's permissions decide what they see here
(``accounts.admin_access``): admins manage users, roles and groups. Nobody but a superuser can make
or edit a superuser, or hand out a permission they don't hold themselves; the role groups are
read-only for everyone, because every migrate sets their permissions from the apps' declarations.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group

from accounts import tokens, users
from accounts.admin_access import grantable_groups, grantable_permissions
from accounts.models import AuthEvent, ChangeEvent
from accounts.roles import ROLE_NAMES, Role, account_role, users_with_role
from config.readonly_admin import ReadOnlyModelAdmin

User = get_user_model()

ROLE_CHOICES = [("", "No role: can't use the API")] + [(role.group_name, role.group_name) for role in reversed(Role)]
ROLE_HELP = (
    "viewer: reads wells, telemetry, analytics, diagnostics and alarms. "
    "operator: viewer + ingests telemetry, runs diagnostics, acknowledges alarms, creates and edits wells. "
    "admin: operator + deletes wells, manages users and roles, backups. A superuser is always an admin. "
    "A role also opens this admin to the user, with the same rights."
)
STAFF_HELP = (
    "May sign in to this admin. Always on for a user with a platform role (taking the role away turns it "
    "off); for a user without a role, their groups and permissions below decide what they see here."
)


def role_field():
    return forms.ChoiceField(choices=ROLE_CHOICES, required=False, help_text=ROLE_HELP)


class RoleFormMixin:
    """The behaviour of the "role" select of a user form; the groups widget then offers only groups
    that aren't roles (and, to an editor who isn't a superuser, only groups they may grant)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = account_role(self.instance) if self.instance.pk else None
        self.fields["role"].initial = current.group_name if current else ""
        if "groups" in self.fields:
            self.fields["groups"].queryset = self.fields["groups"].queryset.exclude(name__in=ROLE_NAMES)
        if "is_staff" in self.fields:
            self.fields["is_staff"].help_text = STAFF_HELP

    def _kept(self, name):
        """What the user has in many-to-many field ``name`` that the widget doesn't offer: the role group
        (the role select changes it, after saving) and whatever the editor may not grant."""
        if not self.instance.pk:
            return []
        return list(getattr(self.instance, name).exclude(pk__in=self.fields[name].queryset.values("pk")))

    def clean_groups(self):
        return [*self.cleaned_data["groups"], *self._kept("groups")]

    def clean_user_permissions(self):
        return [*self.cleaned_data["user_permissions"], *self._kept("user_permissions")]

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
    # Set by signing in and by creating the user; a form that posted them back would overwrite a
    # sign-in that happened while it was open.
    readonly_fields = ["last_login", "date_joined"]
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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("is_superuser")  # so an admin can't make themselves (or anyone) a superuser
        return readonly

    def has_change_permission(self, request, obj=None):
        # A superuser's account (password, groups, status) is for superusers to change: anyone else
        # could otherwise take it over by setting its password.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = grantable_groups(request.user)
        elif db_field.name == "user_permissions":
            kwargs["queryset"] = grantable_permissions(request.user).select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="role")
    def role(self, user):
        role = account_role(user)
        return role.group_name if role else "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role = form.cleaned_data.get("role")
        users.set_role(form.instance, Role.from_name(role) if role else None, request=request)

    @admin.action(description="Sign out everywhere (revoke all their API tokens)", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(is_superuser=False)  # superusers are for superusers to sign out
        for user in queryset:
            tokens.revoke_all_tokens(user, reason="revoked in Django admin")
        self.message_user(request, f"Revoked the tokens of {len(queryset)} user(s).", messages.SUCCESS)


admin.site.unregister(Group)


@admin.register(Group)
class PlatformGroupAdmin(GroupAdmin):
    """Django's group admin, with the role groups read-only (``accounts.admin_access`` sets their
    permissions on every migrate) and, for editors who aren't superusers, only the permissions they
    hold themselves to hand out."""

    def has_change_permission(self, request, obj=None):
        if obj is not None and not self._editable_by(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not self._editable_by(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def _editable_by(self, user, group):
        return group.name not in ROLE_NAMES and grantable_groups(user).filter(pk=group.pk).exists()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "permissions":
            kwargs["queryset"] = grantable_permissions(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyModelAdmin):
    """The audit log, read-only: nobody edits or deletes history from here."""

    list_display = ["timestamp", "event", "username", "actor", "ip_address", "user_agent"]
    list_filter = ["event", "timestamp"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "timestamp"
    list_select_related = ["actor"]
    show_full_result_count = False  # the table only grows; don't COUNT(*) it twice per page
    readonly_fields = [field.name for field in AuthEvent._meta.fields]


@admin.register(ChangeEvent)
class ChangeEventAdmin(ReadOnlyModelAdmin):
    """The change audit trail: who created, changed or deleted which record, from where, before and after."""

    list_display = ["timestamp", "action", "model", "object_repr", "actor_username", "via", "ip_address"]
    list_filter = ["action", "via", "model", "timestamp"]
    search_fields = ["object_id", "object_repr", "actor_username", "ip_address"]
    date_hierarchy = "timestamp"
    show_full_result_count = False  # the table only grows; don't COUNT(*) it twice per page
    readonly_fields = [field.name for field in ChangeEvent._meta.fields]
