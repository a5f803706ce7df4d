"""What the platform records about looking after itself: its database backups."""

from django.db import models


class Backup(models.Model):
    """One pg_dump of the platform's database: a custom-format file in BACKUP_DIR, the manifest of what
    it holds (row counts per table, a checksum of the readings, the newest reading, versions), and how
    the last attempt to restore it into a scratch database went.

    ``status`` is the dump's own outcome; ``verification_status`` is the restore test's ("" until one
    has run). Written by ``operations.backups``; read by the admin, the API, metrics and readiness.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    class Verification(models.TextChoices):
        NOT_VERIFIED = "", "Not verified"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(help_text="When the backup started (UTC).")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it ended; empty while running.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    file = models.CharField(max_length=500, help_text="Path of the dump file on the backup host.")
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="Size of the dump file, bytes.")
    duration_s = models.FloatField(null=True, blank=True, help_text="How long the dump took, seconds.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the dump file, hex.")
    manifest = models.JSONField(default=dict, blank=True, help_text="What the dump holds (operations.backups).")
    detail = models.TextField(blank=True, help_text="Why the backup failed, or what it warned about.")
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When the last restore test ended.")
    verification_status = models.CharField(
        max_length=8, choices=Verification.choices, default=Verification.NOT_VERIFIED, blank=True
    )
    verification_detail = models.TextField(blank=True, help_text="Each check of the last restore test.")
    restore_s = models.FloatField(null=True, blank=True, help_text="How long the last test restore took, seconds.")

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"
        indexes = [models.Index(fields=["status", "-started_at"], name="operations_backup_status_idx")]

    def __str__(self):
        return f"Backup {self.pk} of {self.started_at:%Y-%m-%d %H:%M} UTC ({self.status})"
