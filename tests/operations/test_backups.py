"""Backups proven by restoring them: the real pg_dump and pg_restore against this test's own database.

The tests are transactional (the data is committed, so pg_dump's own connection sees it). The round trip
restores into the test database itself, as an operator would after losing the data.
"""

import datetime
import json
import threading
import types
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from operations import backups
from operations.models import Backup
from operations.tasks import nightly_backup
from telemetry.ingest import store_rows
from telemetry.simulator.backfill import backfill
from telemetry.storage import backend
from tests.factories import UserFactory, WellFactory
from wells.models import Well

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path / "backups")
    return Path(settings.BACKUP_DIR)


@pytest.fixture
def platform_data():
    """Wells, users and two days of readings (two wells every 2 minutes: 2,880 readings over 3 partitions)."""
    wells = [WellFactory(well_id="WELL-001"), WellFactory(well_id="WELL-002")]
    UserFactory(username="ada_admin", role="admin")
    UserFactory(username="omar_operator", role="operator")
    now = datetime.datetime.now(datetime.UTC)
    backfill(wells, now - datetime.timedelta(days=2), now, interval=120)
    return wells


def contents_now():
    """What the test database holds right now, counted and digested the way the manifest is."""
    with connection.cursor() as cursor:
        return backups.count_contents(cursor.cursor)


def scratch_databases():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{connection.settings_dict['NAME']}%"]
        )
        return sorted(name for (name,) in cursor.fetchall() if "_verify_" in name)


def wipe():
    """Every table emptied, as after losing the data (the tables themselves remain)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables WHERE schemaname = 'public'"
        )
        (tables,) = cursor.fetchone()
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def test_it_writes_a_dump_and_a_manifest_that_counts_every_table(platform_data, backup_dir):
    before = contents_now()
    backup = backups.run_backup()

    assert backup.status == Backup.Status.OK, backup.detail
    path = Path(backup.file)
    assert path.parent == backup_dir and path.suffix == ".dump"
    assert backup.size_bytes == path.stat().st_size > 0
    assert backup.sha256 == backups.file_sha256(path)
    manifest = json.loads(backups.manifest_path(path).read_text())
    assert manifest == backup.manifest
    assert manifest["readings"]["rows"] == before.readings_rows == 2880
    assert manifest["readings"]["checksum"] == before.readings_checksum
    assert manifest["tables"]["public.wells_well"] == 2
    if backend() == "postgres":
        assert sum(rows for table, rows in manifest["tables"].items() if "telemetry_reading_p" in table) == 2880
    else:  # a hypertable's chunks are counted through the hypertable
        assert manifest["tables"]["public.telemetry_reading"] == 2880
    assert manifest["newest_reading"] == before.newest_reading.isoformat()
    assert manifest["backend"] == backend() and manifest["postgresql_version"]
    assert manifest["pg_dump_version"].startswith("pg_dump (PostgreSQL)")
    # The backup's own row is in the dump, counted as it was then: running.
    assert manifest["tables"]["public.operations_backup"] == 1


def test_backup_wipe_restore_gives_back_every_row_and_the_same_readings_checksum(platform_data):
    before = contents_now()
    backup = backups.run_backup()
    wipe()
    assert contents_now().rows == 0

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", backup.file)
    with pytest.raises(CommandError, match="is not empty"):  # the tables are still there
        call_command("restore", backup.file, yes=True)
    call_command("restore", backup.file, yes=True, force=True)

    after = contents_now()
    assert after.tables == before.tables | {"public.operations_backup": 1}
    assert after.readings_rows == before.readings_rows
    assert after.readings_checksum == before.readings_checksum == backup.manifest["readings"]["checksum"]
    assert after.tables == backup.manifest["tables"]
    assert Well.objects.get(well_id="WELL-001").pk == platform_data[0].pk
    restored = Backup.objects.get(pk=backup.pk)
    assert restored.status == Backup.Status.OK  # it was "running" inside its own dump
    assert restored.finished_at == datetime.datetime.fromisoformat(backup.manifest["time"])
    assert restored.sha256 == backup.sha256


def test_it_restores_into_an_empty_database_without_force(platform_data, backup_dir):
    backup = backups.run_backup()
    target = f"{connection.settings_dict['NAME']}_restored"
    try:
        call_command("restore", backup.file, yes=True, database=target)
        restored = psycopg.connect(
            dbname=target,
            host=connection.settings_dict["HOST"],
            port=connection.settings_dict["PORT"] or None,
            user=connection.settings_dict["USER"],
        )
        try:
            with restored.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                contents = backups.count_contents(cursor)
        finally:
            restored.close()
        assert contents.tables == backup.manifest["tables"]
        assert contents.readings_checksum == backup.manifest["readings"]["checksum"]
        with pytest.raises(CommandError, match="is not empty"):
            call_command("restore", backup.file, yes=True, database=target)
    finally:
        backups._drop_database(target)


def test_verification_restores_into_a_scratch_database_and_passes(platform_data):
    backup = backups.run_backup()
    result = backups.verify_backup(backup)

    assert result.passed, result.detail
    backup.refresh_from_db()
    assert backup.verification_status == Backup.Verification.PASSED
    assert backup.verified_at is not None and backup.restore_s > 0
    for check in ("file", "restore time", "row counts", "readings checksum", "newest reading", "recovery point"):
        assert f"ok {check}:" in backup.verification_detail
    assert scratch_databases() == []
    assert backups.latest_verification() == backup
    assert backups.latest_backup() == backup


def test_verify_backup_detects_a_truncated_file(platform_data, capsys):
    backup = backups.run_backup()
    path = Path(backup.file)
    path.write_bytes(path.read_bytes()[: backup.size_bytes // 2])

    with pytest.raises(CommandError, match="failed verification"):
        call_command("verify_backup", str(path))
    backup.refresh_from_db()
    assert backup.verification_status == Backup.Verification.FAILED
    assert "truncated or altered" in backup.verification_detail
    assert scratch_databases() == []


def test_verify_backup_detects_an_altered_file(platform_data):
    backup = backups.run_backup()
    path = Path(backup.file)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    path.write_bytes(bytes(data))

    result = backups.verify_backup(backup)
    assert not result.passed
    assert "SHA-256 differs" in result.detail


def test_a_restore_refuses_a_file_that_is_not_what_its_manifest_says(platform_data):
    backup = backups.run_backup()
    path = Path(backup.file)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CommandError, match="truncated or altered"):
        call_command("restore", str(path), yes=True, force=True)


def test_a_dump_whose_data_differs_from_its_manifest_fails_on_the_checksum_and_counts(platform_data, backup_dir):
    # A well-formed dump that is not the data the manifest describes (one reading changed, one added),
    # with the file's size and SHA-256 recorded to match: only the restore-and-compare can tell.
    backup = backups.run_backup()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE telemetry_reading SET flow_rate = flow_rate + 0.001"
            " WHERE (well_id, time) = (SELECT well_id, time FROM telemetry_reading ORDER BY time LIMIT 1)"
        )
    other = backups.run_backup(backup_dir / "other")
    Path(backup.file).write_bytes(Path(other.file).read_bytes())
    Backup.objects.filter(pk=backup.pk).update(
        size_bytes=other.size_bytes,
        sha256=other.sha256,
        manifest={**backup.manifest, "size_bytes": other.size_bytes, "sha256": other.sha256},
    )
    backup.refresh_from_db()

    result = backups.verify_backup(backup)
    assert not result.passed
    assert "ok file:" in result.detail
    assert "FAILED readings checksum" in result.detail
    assert "FAILED row counts: public.operations_backup: 1 in the manifest, 2 restored" in result.detail


def test_verification_fails_when_the_newest_reading_is_past_the_recovery_point_target(settings):
    well = WellFactory(well_id="WELL-001")
    old = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(hours=3)
    store_rows([(well.pk, old, 1000.0, 800.0, None, None, None, None, 40.0, None, None)])
    settings.BACKUP_RPO_HOURS = 2
    backup = backups.run_backup()

    result = backups.verify_backup(backup)
    assert not result.passed
    assert "FAILED recovery point: newest reading 3.0 h old (target 2 h)" in result.detail
    assert "ok readings checksum" in result.detail


def test_verification_fails_when_the_restore_is_slower_than_the_recovery_time_target(settings, platform_data):
    settings.BACKUP_RTO_MINUTES = 0
    result = backups.verify_backup(backups.run_backup())
    assert not result.passed
    assert "FAILED restore time" in result.detail


def test_rows_written_during_the_backup_are_neither_dumped_nor_counted(platform_data, monkeypatch):
    # Readings keep arriving: a writer commits new readings after the snapshot was exported and before
    # pg_dump starts. The manifest and the dump must both be the snapshot's, so verification passes.
    well = platform_data[0]
    written_during_dump = threading.Event()
    real_dump = backups._dump

    def write_then_dump(database, snapshot, partial):
        def writer():
            from django.db import connection as thread_connection

            try:
                moment = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(seconds=30)
                store_rows([(well.pk, moment, 900.0, 700.0, None, None, None, None, 41.0, None, None)])
                written_during_dump.set()
            finally:
                thread_connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(timeout=60)
        return real_dump(database, snapshot, partial)

    monkeypatch.setattr(backups, "_dump", write_then_dump)
    before = contents_now()
    backup = backups.run_backup()

    assert written_during_dump.is_set()
    assert contents_now().readings_rows == before.readings_rows + 1  # committed while the backup ran
    assert backup.manifest["readings"]["rows"] == before.readings_rows
    assert backup.manifest["readings"]["checksum"] == before.readings_checksum
    result = backups.verify_backup(backup)
    assert result.passed, result.detail


def test_a_second_backup_at_the_same_time_is_refused(platform_data, backup_dir):
    holder = psycopg.connect(dbname=connection.settings_dict["NAME"], host=connection.settings_dict["HOST"],
                              port=connection.settings_dict["PORT"] or None,
                              user=connection.settings_dict["USER"])  # fmt: skip
    try:
        with holder.cursor() as cursor:
            cursor.execute(backups.TRY_BACKUP_LOCK)
        backup = backups.run_backup()
    finally:
        holder.close()
    assert backup.status == Backup.Status.FAILED
    assert "Another backup of this database is running" in backup.detail
    assert list(backup_dir.glob("*.dump*")) == []


def test_a_failed_backup_is_recorded_logged_as_an_error_and_handed_to_the_failure_hook(settings, monkeypatch, caplog):
    settings.PG_BIN_DIR = "/nonexistent/postgresql/bin"
    handed = []
    real_hook = backups.backup_failed
    monkeypatch.setattr(backups, "backup_failed", lambda backup: (handed.append(backup.pk), real_hook(backup)))

    backup = backups.run_backup()

    assert backup.status == Backup.Status.FAILED
    assert "pg_dump is not in PG_BIN_DIR" in backup.detail
    assert backup.finished_at is not None
    assert handed == [backup.pk]
    errors = [record for record in caplog.records if record.levelname == "ERROR"]
    assert [record.getMessage() for record in errors] == [f"Backup {backup.pk} failed: {backup.detail}"]
    assert backups.latest_backup() is None
    with pytest.raises(CommandError, match="failed"):
        call_command("backup")


def test_a_failed_backup_mails_the_escalation_receivers(settings, mailoutbox):
    settings.PG_BIN_DIR = "/nonexistent/postgresql/bin"
    settings.ALARM_ESCALATION_RECEIVERS = ["control-room@example.com"]
    backup = backups.run_backup()
    (mail,) = mailoutbox
    assert mail.to == ["control-room@example.com"]
    assert mail.subject == f"[ESP critical] backup {backup.pk} failed"
    assert "pg_dump is not in PG_BIN_DIR" in mail.body


def test_a_backup_left_running_by_a_dead_process_is_marked_failed_by_the_next(platform_data):
    dead = Backup.objects.create(started_at=datetime.datetime(2026, 1, 1, 2, tzinfo=datetime.UTC), file="x")
    backups.run_backup()
    dead.refresh_from_db()
    assert dead.status == Backup.Status.FAILED
    assert "Interrupted" in dead.detail


def test_the_nightly_task_backs_up_verifies_and_applies_retention(platform_data, settings):
    settings.BACKUP_KEEP_DAILY = 1
    settings.BACKUP_KEEP_WEEKLY = 0
    first = nightly_backup.apply().get()
    second = nightly_backup.apply().get()

    assert first["status"] == second["status"] == "ok"
    assert first["verification"] == second["verification"] == "passed"
    assert second["pruned"] == [first["backup_id"]]  # same day: only the newest is kept
    assert list(Backup.objects.values_list("pk", flat=True)) == [second["backup_id"]]
    files = sorted(path.name for path in Path(settings.BACKUP_DIR).iterdir())
    assert len(files) == 2 and all(str(second["backup_id"]) + ".dump" in name for name in files)


def at(day, hour=2):
    return types.SimpleNamespace(
        pk=day * 100 + hour, started_at=datetime.datetime(2026, 11, day, hour, tzinfo=datetime.UTC)
    )


def test_retention_keeps_the_newest_of_each_recent_day_and_of_each_recent_week(settings):
    settings.TIME_ZONE = "UTC"
    # Nov 2026: the 2nd, 9th, 16th, 23rd and 30th are Mondays.
    history = [at(day) for day in range(1, 31)] + [at(30, hour=14), at(29, hour=23)]
    keep = backups.backups_to_keep(history, keep_daily=3, keep_weekly=3)
    daily = {at(30, 14).pk, at(29, 23).pk, at(28).pk}
    weekly = {at(30, 14).pk, at(29, 23).pk, at(22).pk}  # weeks of the 30th, of the 23rd-29th, of the 16th-22nd
    assert keep == daily | weekly


def test_retention_deletes_the_files_of_the_backups_it_drops(platform_data, settings):
    settings.BACKUP_KEEP_DAILY = 1
    settings.BACKUP_KEEP_WEEKLY = 0
    old, new = backups.run_backup(), backups.run_backup()
    Backup.objects.filter(pk=old.pk).update(started_at=old.started_at - datetime.timedelta(days=1))
    settings.BACKUP_KEEP_DAILY = 2
    assert backups.prune_backups() == []
    settings.BACKUP_KEEP_DAILY = 1
    assert backups.prune_backups() == [old.pk]
    assert not Path(old.file).exists() and not backups.manifest_path(old.file).exists()
    assert Path(new.file).exists() and backups.manifest_path(new.file).exists()


def test_verification_of_a_file_without_a_row_uses_the_manifest_beside_it(platform_data, capsys):
    backup = backups.run_backup()
    Backup.objects.filter(pk=backup.pk).delete()
    call_command("verify_backup", backup.file)
    assert "verified: restored in" in capsys.readouterr().out
