"""The readings table's columns: the one definition both storage backends build on.

The relation is called ``telemetry_reading`` on both backends and has the same columns and primary key,
so every reader (ORM, admin, analytics) is backend-blind. Units are on ``telemetry.models.Reading``.
"""

READINGS_TABLE = "telemetry_reading"

# The one list of a reading's metrics, in storage order: the model (``Reading.METRIC_FIELDS``), ingest, the
# API, exports and backups read it. The DDL below spells the same columns out, as a migration must;
# tests/telemetry/test_reading_columns.py checks that the database's table and the model agree with it.
METRIC_COLUMNS = (
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

# Every column of a stored reading; the ingest write path copies rows in this order.
READING_COLUMNS = ("well_id", "time", *METRIC_COLUMNS)

# One row per (well, time): the primary key is what makes a repeated reading a duplicate instead of a
# second row. Deleting a well deletes its readings in the database (ON DELETE CASCADE), so Django never
# loads them to delete them one by one. The backend appends its storage clause (e.g. PARTITION BY).
CREATE_READINGS_TABLE = """
CREATE TABLE telemetry_reading (
    well_id bigint NOT NULL
        CONSTRAINT telemetry_reading_well_id_fkey REFERENCES wells_well (id) ON DELETE CASCADE,
    "time" timestamptz NOT NULL,
    flow_rate double precision NOT NULL,
    pip double precision NOT NULL,
    casing_pressure double precision,
    tubing_pressure double precision,
    intake_pressure double precision,
    discharge_pressure double precision,
    motor_current double precision NOT NULL,
    motor_temp double precision,
    vibration double precision,
    CONSTRAINT telemetry_reading_pkey PRIMARY KEY (well_id, "time")
)
"""

# Removes the readings and, on plain PostgreSQL, every partition with them (migration reversal).
DROP_READINGS_TABLE = "DROP TABLE IF EXISTS telemetry_reading CASCADE"
