"""GET /api/v1/operations/backups: admins see every backup with its manifest figures and restore test."""

import datetime

import pytest

from operations import backups
from operations.models import Backup
from tests.api_errors import named_errors
from tests.config.openapi_responses import published_schema, response_problems
from tests.factories import WellFactory

URL = "/api/v1/operations/backups"


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_admins_see_each_backup_with_its_verification_newest_first(bearer_client, admin_user):
    WellFactory(well_id="WELL-001")
    failed = Backup.objects.create(
        started_at=datetime.datetime(2026, 11, 1, 2, tzinfo=datetime.UTC),
        finished_at=datetime.datetime(2026, 11, 1, 2, 0, 1, tzinfo=datetime.UTC),
        status=Backup.Status.FAILED,
        file="/var/backups/esp_platform-20261101T020000Z-1.dump",
        detail="pg_dump exited with status 1: connection refused",
    )
    good = backups.run_backup()
    backups.verify_backup(good)

    response = bearer_client(admin_user).get(URL)

    assert response.status_code == 200
    assert response_problems(published_schema(), "GET", URL, response) == []
    first, second = response.json()["results"]
    assert [first["id"], second["id"]] == [good.pk, failed.pk]
    assert first["status"] == "ok"
    assert first["file"] == good.file.rsplit("/", 1)[-1]
    assert first["readings_checksum"] == good.manifest["readings"]["checksum"]
    assert first["tables"]["public.wells_well"] == 1
    assert first["verification"]["status"] == "passed"
    assert first["verification"]["restore_s"] > 0
    assert "ok readings checksum" in first["verification"]["detail"]
    assert second["verification"] == {"status": "", "verified_at": None, "restore_s": None, "detail": ""}
    assert second["rows"] is None and second["tables"] == {} and second["detail"].startswith("pg_dump exited")


@pytest.mark.django_db
def test_it_filters_by_outcome_and_by_verification(admin_client_api):
    moment = datetime.datetime(2026, 11, 1, 2, tzinfo=datetime.UTC)
    ok = Backup.objects.create(started_at=moment, status="ok", file="a.dump", verification_status="passed")
    untested = Backup.objects.create(started_at=moment, status="ok", file="b.dump")
    Backup.objects.create(started_at=moment, status="failed", file="c.dump")

    def ids(**query):
        response = admin_client_api.get(URL, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="ok") == {ok.pk, untested.pk}
    assert ids(verification="passed") == {ok.pk}
    assert ids(verification="none", status="ok") == {untested.pk}
    refused = admin_client_api.get(URL, {"status": "lost"})
    assert refused.status_code == 400 and "status" in named_errors(refused)
