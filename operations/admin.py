from django.contrib import admin

from config.readonly_admin import ReadOnlyModelAdmin
from operations.models import Backup


@admin.register(Backup)
class BackupAdmin(ReadOnlyModelAdmin):
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
