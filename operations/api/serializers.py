"""The backups as the API shows them: the dump's outcome, what its manifest says, and its restore test."""

from rest_framework import serializers

from operations.models import Backup


class BackupVerificationSerializer(serializers.Serializer):
    """The last restore test of a backup (status "" until one has run)."""

    status = serializers.ChoiceField(
        source="verification_status", choices=Backup.Verification.choices, read_only=True, allow_blank=True
    )
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    restore_s = serializers.FloatField(read_only=True, allow_null=True, help_text="Seconds the test restore took.")
    detail = serializers.CharField(
        source="verification_detail", read_only=True, help_text="One line per check: ok or FAILED, what it found."
    )


class BackupSerializer(serializers.ModelSerializer):
    """One backup. ``file`` is the dump's name in BACKUP_DIR; the manifest's figures are null for a backup
    that failed (it has no manifest)."""

    file = serializers.SerializerMethodField()
    snapshot_time = serializers.DateTimeField(
        source="manifest.time", read_only=True, allow_null=True, help_text="The moment the dump holds (UTC)."
    )
    backend = serializers.CharField(source="manifest.backend", read_only=True, allow_null=True)
    postgresql_version = serializers.CharField(source="manifest.postgresql_version", read_only=True, allow_null=True)
    timescaledb_version = serializers.CharField(source="manifest.timescaledb_version", read_only=True, allow_null=True)
    tables = serializers.SerializerMethodField(help_text="Row count of each table in the dump.")
    rows = serializers.IntegerField(source="manifest.rows", read_only=True, allow_null=True)
    readings = serializers.IntegerField(source="manifest.readings.rows", read_only=True, allow_null=True)
    readings_checksum = serializers.CharField(source="manifest.readings.checksum", read_only=True, allow_null=True)
    newest_reading = serializers.DateTimeField(source="manifest.newest_reading", read_only=True, allow_null=True)
    verification = BackupVerificationSerializer(source="*", read_only=True)

    class Meta:
        model = Backup
        fields = [
            "id",
            "status",
            "started_at",
            "finished_at",
            "duration_s",
            "file",
            "size_bytes",
            "sha256",
            "detail",
            "snapshot_time",
            "backend",
            "postgresql_version",
            "timescaledb_version",
            "rows",
            "tables",
            "readings",
            "readings_checksum",
            "newest_reading",
            "verification",
        ]
        read_only_fields = fields

    def get_file(self, backup) -> str:
        return backup.file.rsplit("/", 1)[-1]

    def get_tables(self, backup) -> dict[str, int]:
        return backup.manifest.get("tables", {})
