"""Pump readings and the log of which hours of readings changed.

The readings table is not built by Django's schema editor: migration 0001 creates it as a TimescaleDB
hypertable or a daily range-partitioned table (see ``telemetry.storage``). Django only knows its
columns, so the ORM can read it; writes go through ``telemetry.ingest`` (COPY, ON CONFLICT DO NOTHING).
"""

from django.db import models
from django.db.models.functions import Now

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

    Deleting a well deletes its readings in the database (ON DELETE CASCADE in the DDL); Django's
    ``on_delete=DO_NOTHING`` keeps Django from loading millions of readings to delete them itself.
    """

    METRIC_FIELDS = (
        "flow_rate",
        "pip",
        "casing_pressure",
        "tubing_pressure",
        "intake_pressure",
        "discharge_pressure",
        "motor_current",
        "motor_temp",
        "vibration",
    )

    pk = models.CompositePrimaryKey("well", "time")
    # The primary key (well_id, time) already serves lookups by well, so no separate index.
    well = models.ForeignKey(Well, on_delete=models.DO_NOTHING, db_index=False, related_name="readings")
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
