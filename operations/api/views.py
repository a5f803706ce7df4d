"""Operations API: the backups, for admins."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers

from accounts.permissions import IsAdmin
from config.params import QueryParams
from operations.api.serializers import BackupSerializer
from operations.models import Backup

BACKUP_EXAMPLE = {
    "id": 42,
    "status": "ok",
    "started_at": "2026-11-28T02:00:00.104Z",
    "finished_at": "2026-11-28T02:00:03.801Z",
    "duration_s": 3.7,
    "file": "esp_platform-20261128T020000Z-42.dump",
    "size_bytes": 92393107,
    "sha256": "5b0c8b1e3f0e4d6c9a7b2e1f0d3c4b5a69788766554433221100ffeeddccbbaa",
    "detail": "",
    "snapshot_time": "2026-11-28T02:00:00.121Z",
    "backend": "postgres",
    "postgresql_version": "15.20 (Debian 15.20-0+deb12u1)",
    "timescaledb_version": None,
    "rows": 1015944,
    "tables": {"public.wells_well": 12, "public.telemetry_reading_p20261128": 17280},
    "readings": 997920,
    "readings_checksum": "-786166403848419492921",
    "newest_reading": "2026-11-28T01:59:00Z",
    "verification": {
        "status": "passed",
        "verified_at": "2026-11-28T02:00:13.602Z",
        "restore_s": 7.5,
        "detail": "ok file: 92393107 bytes, SHA-256 as in the manifest\nok restore time: restored in 7.5 s …",
    },
}


class BackupFilterParams(QueryParams):
    status = serializers.ChoiceField(choices=Backup.Status.choices, required=False)
    verification = serializers.ChoiceField(
        choices=[("passed", "Passed"), ("failed", "Failed"), ("none", "Not verified")], required=False
    )


@extend_schema(
    tags=["Operations"],
    summary="Database backups with their restore tests, newest first (admin)",
    description="Every backup `manage.py backup` or the nightly beat task made and retention kept: the dump's "
    "outcome (`running`, `ok`, `failed` with the reason in `detail`), what its manifest says (row counts per "
    "table and the readings' checksum taken in the dump's own snapshot, the newest reading, versions) and its "
    "last restore test (`verification.status` `passed`, `failed` or empty when not tested yet, each check in "
    "`verification.detail`). Filter with `status` and `verification` (`passed`, `failed`, `none`).",
    parameters=[
        OpenApiParameter("status", enum=Backup.Status.values, description="Only backups with this outcome."),
        OpenApiParameter(
            "verification", enum=["passed", "failed", "none"], description="Only backups whose last test did this."
        ),
    ],
    responses={
        200: BackupSerializer(many=True),
        400: OpenApiResponse(description="A filter is invalid; errors names it."),
    },
    examples=[OpenApiExample("A verified nightly backup", value=BACKUP_EXAMPLE, response_only=True)],
)
class BackupListView(generics.ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = BackupSerializer

    def get_queryset(self):
        params = BackupFilterParams.validated(self.request)
        backups = Backup.objects.order_by("-started_at", "-id")
        if "status" in params:
            backups = backups.filter(status=params["status"])
        verification = params.get("verification")
        if verification:
            backups = backups.filter(verification_status="" if verification == "none" else verification)
        return backups
