from django.contrib import admin

from operations.models import Backup


@admin.register(Backup)
class BackupAdmin(admin.ModelAdmin):
    """Backups, read-only: they are made by `manage.py backup` and the nightly beat task, and deleted by
    retention together with their files (deleting a row here would leave its file behind)."""

    list_display = [
        "started_at",
        "status",
        "size_bytes",
        "duration_s",
        "verification_status",
        "verified_at",
        "restore_s",
    ]
    list_filter = ["status", "verification_status"]
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    fields = [
        "started_at",
        "finished_at",
        "status",
        "detail",
        "file",
        "size_bytes",
        "sha256",
        "duration_s",
        "verification_status",
        "verified_at",
        "restore_s",
        "verification_detail",
        "manifest",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
