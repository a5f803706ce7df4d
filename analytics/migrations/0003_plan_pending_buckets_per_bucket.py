"""Replace the PostgreSQL rollup views' raw arm with per-bucket functions.

The views of 0002 joined every readings partition on every read; planning that join cost tens of
milliseconds with a year of daily partitions. Same columns, so dependent views stay valid.

The DDL is this migration's own, frozen as it ran when the migration landed (it used to call
analytics.rollups.postgres): a change is a new migration.
"""

from django.conf import settings
from django.db import migrations

READINGS_ARE_PARTITIONED = (
    "SELECT EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = to_regclass('telemetry_reading'))"
)

CREATE_HOURLY_FROM_RAW = """
CREATE OR REPLACE FUNCTION telemetry_hourly_from_raw(p_well bigint, p_bucket timestamptz)
RETURNS TABLE (avg_flow_rate double precision, max_flow_rate double precision, min_flow_rate double precision, avg_pip double precision, avg_casing_pressure double precision, avg_tubing_pressure double precision, avg_motor_current double precision, avg_motor_temp double precision, max_motor_temp double precision, avg_intake_pressure double precision, avg_discharge_pressure double precision, avg_vibration double precision, reading_count bigint, first_reading timestamptz, last_reading timestamptz)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT 
    avg(r.flow_rate) AS avg_flow_rate,
    max(r.flow_rate) AS max_flow_rate,
    min(r.flow_rate) AS min_flow_rate,
    avg(r.pip) AS avg_pip,
    avg(r.casing_pressure) AS avg_casing_pressure,
    avg(r.tubing_pressure) AS avg_tubing_pressure,
    avg(r.motor_current) AS avg_motor_current,
    avg(r.motor_temp) AS avg_motor_temp,
    max(r.motor_temp) AS max_motor_temp,
    avg(r.intake_pressure) AS avg_intake_pressure,
    avg(r.discharge_pressure) AS avg_discharge_pressure,
    avg(r.vibration) AS avg_vibration,
    count(*) AS reading_count,
    min(r.time) AS first_reading,
    max(r.time) AS last_reading

    FROM telemetry_reading r
    WHERE r.well_id = p_well AND r.time >= p_bucket AND r.time < p_bucket + interval '1 hour'
    HAVING count(*) > 0;
END $$
"""

CREATE_DAILY_FROM_RAW = """
CREATE OR REPLACE FUNCTION telemetry_daily_from_raw(p_well bigint, p_day timestamptz, p_timezone text)
RETURNS TABLE (avg_flow_rate double precision, stddev_flow_rate double precision, avg_pip double precision, avg_motor_current double precision, max_motor_current double precision, avg_motor_temp double precision, max_motor_temp double precision, avg_vibration double precision, max_vibration double precision, reading_count bigint, uptime_fraction double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT 
    avg(r.flow_rate) AS avg_flow_rate,
    stddev_samp(r.flow_rate) AS stddev_flow_rate,
    avg(r.pip) AS avg_pip,
    avg(r.motor_current) AS avg_motor_current,
    max(r.motor_current) AS max_motor_current,
    avg(r.motor_temp) AS avg_motor_temp,
    max(r.motor_temp) AS max_motor_temp,
    avg(r.vibration) AS avg_vibration,
    max(r.vibration) AS max_vibration,
    count(*) AS reading_count,
    count(*) FILTER (WHERE r.motor_current >= 5.0)::float8 / count(*) AS uptime_fraction

    FROM telemetry_reading r
    WHERE r.well_id = p_well AND r.time >= p_day AND r.time < p_day + interval '26 hours'
      AND date_trunc('day', r.time, p_timezone) = p_day
    HAVING count(*) > 0;
END $$
"""

CREATE_HOURLY_VIEW = """
CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT m.bucket, m.well_id, m.avg_flow_rate, m.max_flow_rate, m.min_flow_rate, m.avg_pip, m.avg_casing_pressure, m.avg_tubing_pressure, m.avg_motor_current, m.avg_motor_temp, m.max_motor_temp, m.avg_intake_pressure, m.avg_discharge_pressure, m.avg_vibration, m.reading_count, m.first_reading, m.last_reading
FROM analytics_telemetry_hourly_rollup m
WHERE NOT EXISTS (SELECT 1 FROM telemetry_readingchange c WHERE c.well_id = m.well_id AND c.hour = m.bucket)
UNION ALL
SELECT p.bucket, p.well_id, raw.*
FROM (SELECT DISTINCT c.well_id, c.hour AS bucket FROM telemetry_readingchange c) p
CROSS JOIN LATERAL telemetry_hourly_from_raw(p.well_id, p.bucket) raw
"""

CREATE_DAILY_VIEW = """
CREATE OR REPLACE VIEW telemetry_daily AS
SELECT m.bucket, m.well_id, m.avg_flow_rate, m.stddev_flow_rate, m.avg_pip, m.avg_motor_current, m.max_motor_current, m.avg_motor_temp, m.max_motor_temp, m.avg_vibration, m.max_vibration, m.reading_count, m.uptime_fraction
FROM analytics_telemetry_daily_rollup m
WHERE NOT EXISTS (
    SELECT 1 FROM (
SELECT well_id, date_trunc('day', hour, {timezone}) AS bucket FROM telemetry_readingchange
UNION
SELECT well_id, date_trunc('day', hour + interval '1 hour' - interval '1 microsecond', {timezone}) FROM telemetry_readingchange
) p WHERE p.well_id = m.well_id AND p.bucket = m.bucket
)
UNION ALL
SELECT p.bucket, p.well_id, raw.*
FROM (
SELECT well_id, date_trunc('day', hour, {timezone}) AS bucket FROM telemetry_readingchange
UNION
SELECT well_id, date_trunc('day', hour + interval '1 hour' - interval '1 microsecond', {timezone}) FROM telemetry_readingchange
) p
CROSS JOIN LATERAL telemetry_daily_from_raw(p.well_id, p.bucket, {timezone}) raw
"""


def install_views(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(READINGS_ARE_PARTITIONED)
        if not cursor.fetchone()[0]:
            return
        cursor.execute("SELECT quote_literal(%s)", [settings.ANALYTICS_TIMEZONE])
        timezone = cursor.fetchone()[0]
        cursor.execute(CREATE_HOURLY_FROM_RAW)
        cursor.execute(CREATE_DAILY_FROM_RAW)
        cursor.execute(CREATE_HOURLY_VIEW)
        cursor.execute(CREATE_DAILY_VIEW.format(timezone=timezone))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_create_rollups")]

    operations = [migrations.RunPython(install_views, migrations.RunPython.noop)]
