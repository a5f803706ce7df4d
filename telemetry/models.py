"""Pump readings and the log of which hours of readings changed.

The readings table is not built by Django's schema editor: migration 0001 creates it as a TimescaleDB
hypertable or a daily range-partitioned table (see ``telemetry.storage``). Django only knows its
columns, so the ORM can read it; writes go through ``telemetry.ingest`` (COPY, ON CONFLICT DO NOTHING).
"""

from django.db import models
from django.db.models.functions import Now

from telemetry.storage.schema import METRIC_COLUMNS
from wells.models import Well


class ReadingQuerySet(models.QuerySet):
    def newest_before(self, well, before=None, limit=100):
        """The well's readings newest first, strictly older than ``before`` (an aware datetime) if given.

        Keyset paging over the primary key (well_id, time): one index range scan, no OFFSET, no COUNT.
        Returns dicts, not model instances.
        """
        readings = self.filter(well=well)
        if before is not None:
            readings = readings.filter(time__lt=before)
        return readings.order_by("-time").values("time", *Reading.METRIC_FIELDS)[:limit]


class Reading(models.Model):
    """One sample of an ESP's surface and downhole sensors at one instant, as the pump controller sent it.

    Identified by (well, time): a well reports at most one reading per timestamp; a repeat of the same
    (well, time) is a duplicate and never overwrites the stored row.

    Units: ``flow_rate`` bbl/d (liquid rate at surface); ``pip`` pump intake pressure, psi;
    ``casing_pressure``, ``tubing_pressure``, ``intake_pressure``, ``discharge_pressure`` psi (gauge);
    ``motor_current`` A; ``motor_temp`` °C (motor winding / oil); ``vibration`` mm/s (RMS velocity).
    ``flow_rate``, ``pip`` and ``motor_current`` are always reported; the rest may be missing when the
    string has no such gauge.

    Every reading's well exists, though the table has no foreign key (its per-row check cost more than the
    rest of a batch's insert): ingestion locks the batch's wells (FOR KEY SHARE) in the transaction that
    stores their readings, and deleting a well deletes its readings in the database (a trigger, migration
    ``0003_readings_without_foreign_key``). Django's ``on_delete=DO_NOTHING`` keeps Django from loading
    millions of readings to delete them itself.
    """

    METRIC_FIELDS = METRIC_COLUMNS

    pk = models.CompositePrimaryKey("well", "time")
    # The primary key (well_id, time) already serves lookups by well, so no separate index.
    well = models.ForeignKey(
        Well, on_delete=models.DO_NOTHING, db_index=False, db_constraint=False, related_name="readings"
    )
    time = models.DateTimeField(help_text="When the controller took the reading (stored in UTC).")
    flow_rate = models.FloatField("flow rate (bbl/d)")
    pip = models.FloatField("pump intake pressure (psi)")
    casing_pressure = models.FloatField("casing pressure (psi)", null=True, blank=True)
    tubing_pressure = models.FloatField("tubing pressure (psi)", null=True, blank=True)
    intake_pressure = models.FloatField("intake pressure (psi)", null=True, blank=True)
    discharge_pressure = models.FloatField("discharge pressure (psi)", null=True, blank=True)
    motor_current = models.FloatField("motor current (A)")
    motor_temp = models.FloatField("motor temperature (°C)", null=True, blank=True)
    vibration = models.FloatField("vibration (mm/s)", null=True, blank=True)

    objects = ReadingQuerySet.as_manager()

    def __str__(self):
        return f"{self.well_id} @ {self.time.isoformat()}"


class ReadingChange(models.Model):
    """A note that readings of one well in one UTC hour were inserted, left by ingestion for the rollups.

    Written by ``telemetry.ingest`` in the same transaction as the readings themselves, one row per
    distinct (well, hour) whose readings were actually inserted by that ingest (duplicates that stored
    nothing leave no row). Append-only and not unique: two ingests touching the same hour leave two
    rows. The rollup refresh on plain PostgreSQL claims rows with one ``DELETE … RETURNING`` in the same
    transaction as it recomputes their hours, so a row committed later waits for the next refresh and a
    failed refresh puts its rows back.

    ``hour`` is the start of the UTC hour (``date_trunc('hour', time, 'UTC')``); a reading at
    10:42:17Z is logged as 10:00:00Z. Late and out-of-order readings (backfills) are logged the same way,
    so the refresh only recomputes the hours that changed.
    """

    # Indexed with hour below: the rollup views look pending hours up by (well, hour).
    well = models.ForeignKey(Well, on_delete=models.CASCADE, db_index=False, related_name="+")
    hour = models.DateTimeField(help_text="Start of the UTC hour whose readings changed.")
    recorded_at = models.DateTimeField(db_default=Now(), help_text="When the ingest that inserted the readings ran.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["well", "hour"], name="telemetry_change_well_hour")]

    def __str__(self):
        return f"{self.well_id} {self.hour.isoformat()}"


class LatestReading(models.Model):
    """A well's newest stored reading, and running totals of the UTC hour it falls in: the fleet at a glance.

    Kept by ``telemetry.ingest`` in the same statement that stores the readings (``KEEP_LATEST_READING``),
    so a reading acknowledged is reflected here, and fleet reads cost one row per well whatever the
    ingest rate. An older reading never replaces a newer one; a duplicate changes nothing.

    ``hour`` is the UTC hour of ``time`` and the ``hour_*`` columns total that hour's readings, for the
    hourly averages the fleet overview scores (``analytics.queries``): the same hour as the newest
    bucket of ``telemetry_hourly``, without aggregating its raw readings. The totals are exact when every
    reading of the hour went through ingestion, as they all do.

    Retention drops old readings but not this row: a well silent for longer than the retention window
    keeps its last reading here (as the hourly rollup, kept longer, keeps its last hour).
    """

    well = models.OneToOneField(Well, on_delete=models.CASCADE, primary_key=True, related_name="latest_reading")
    time = models.DateTimeField(help_text="When the newest reading was taken (UTC).")
    flow_rate = models.FloatField("flow rate (bbl/d)")
    pip = models.FloatField("pump intake pressure (psi)")
    casing_pressure = models.FloatField("casing pressure (psi)", null=True)
    tubing_pressure = models.FloatField("tubing pressure (psi)", null=True)
    intake_pressure = models.FloatField("intake pressure (psi)", null=True)
    discharge_pressure = models.FloatField("discharge pressure (psi)", null=True)
    motor_current = models.FloatField("motor current (A)")
    motor_temp = models.FloatField("motor temperature (°C)", null=True)
    vibration = models.FloatField("vibration (mm/s)", null=True)
    hour = models.DateTimeField(help_text="Start of the UTC hour of the newest reading.")
    hour_reading_count = models.BigIntegerField(help_text="Readings stored in that hour.")
    hour_flow_rate_sum = models.FloatField(help_text="Sum of that hour's flow rates (bbl/d).")
    hour_motor_current_sum = models.FloatField(help_text="Sum of that hour's motor currents (A).")
    hour_motor_temp_sum = models.FloatField(help_text="Sum of that hour's motor temperatures (°C), where reported.")
    hour_motor_temp_count = models.BigIntegerField(help_text="That hour's readings with a motor temperature.")
    hour_motor_temp_max = models.FloatField(null=True, help_text="That hour's highest motor temperature (°C).")
    hour_vibration_sum = models.FloatField(help_text="Sum of that hour's vibrations (mm/s), where reported.")
    hour_vibration_count = models.BigIntegerField(help_text="That hour's readings with a vibration.")

    def __str__(self):
        return f"{self.well_id} @ {self.time.isoformat()}"


class PolicyJobRun(models.Model):
    """The platform's own latest run of one TimescaleDB policy job (compression, retention, refresh).

    The platform runs every policy job itself with ``CALL run_job`` (``telemetry.storage.timescaledb``),
    because TimescaleDB 2.28's scheduler fails them on PostgreSQL 15.20+; TimescaleDB's job statistics
    count only its scheduler's runs, so each foreground run's outcome is kept here, one row per job,
    overwritten by the next run. Empty on plain PostgreSQL.
    """

    job_id = models.IntegerField(primary_key=True, help_text="TimescaleDB's job id (timescaledb_information.jobs).")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    succeeded = models.BooleanField()
    error = models.TextField(blank=True, help_text="What the run raised, when it failed.")
    last_success_at = models.DateTimeField(null=True, help_text="When a run by the platform last succeeded.")

    def __str__(self):
        return f"job {self.job_id}: {'succeeded' if self.succeeded else 'failed'} at {self.finished_at.isoformat()}"
