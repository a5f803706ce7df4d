"""A Django admin page that only shows: for records the platform writes itself (audit log, deliveries,
backups), where an edit or a delete from the admin would falsify history or orphan a file."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
