"""Drops the readings' per-row foreign key to wells; a trigger on wells deletes a deleted well's readings.

The foreign key checked each inserted reading with its own lookup of the well: about 60 % of a batch's
COPY time. Ingestion already finds the batch's wells, and locks them FOR KEY SHARE in the transaction that
stores their readings (``telemetry.ingest.STORE_INCOMING_READINGS``), so a well can't be deleted under a
batch. What ON DELETE CASCADE did is kept by a statement-level trigger: deleting wells deletes their
readings in the same statement, so no stored reading points to a missing well. The DDL is plain
PostgreSQL and works on both storage backends (a partitioned table or a TimescaleDB hypertable: dropping
the parent's constraint drops it from every partition or chunk; the trigger is on ``wells_well``).
"""

from django.db import migrations, models

DROP_READING_WELL_FOREIGN_KEY = "ALTER TABLE telemetry_reading DROP CONSTRAINT telemetry_reading_well_id_fkey"

# Deleting wells deletes their readings, in the deleting statement: one DELETE per statement, whatever the
# number of wells (the transition table holds the deleted rows).
CREATE_DELETE_READINGS_OF_DELETED_WELLS = """
CREATE FUNCTION telemetry_delete_readings_of_deleted_wells() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM telemetry_reading WHERE well_id IN (SELECT id FROM deleted_wells);
    RETURN NULL;
END
$$;
CREATE TRIGGER telemetry_reading_deleted_with_well
    AFTER DELETE ON wells_well
    REFERENCING OLD TABLE AS deleted_wells
    FOR EACH STATEMENT EXECUTE FUNCTION telemetry_delete_readings_of_deleted_wells();
"""

DROP_DELETE_READINGS_OF_DELETED_WELLS = """
DROP TRIGGER telemetry_reading_deleted_with_well ON wells_well;
DROP FUNCTION telemetry_delete_readings_of_deleted_wells();
"""

# Reversal: the foreign key as migration 0001 created it (checks every stored reading).
ADD_READING_WELL_FOREIGN_KEY = """
ALTER TABLE telemetry_reading ADD CONSTRAINT telemetry_reading_well_id_fkey
    FOREIGN KEY (well_id) REFERENCES wells_well (id) ON DELETE CASCADE
"""


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0002_create_latest_reading"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reading",
                    name="well",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.DO_NOTHING,
                        related_name="readings",
                        to="wells.well",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(CREATE_DELETE_READINGS_OF_DELETED_WELLS, DROP_DELETE_READINGS_OF_DELETED_WELLS),
                migrations.RunSQL(DROP_READING_WELL_FOREIGN_KEY, ADD_READING_WELL_FOREIGN_KEY),
            ],
        ),
    ]
