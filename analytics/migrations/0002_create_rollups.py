"""Build the four rollup relations for the storage backend migration telemetry.0001 chose.

The DDL is this migration's own, frozen as it ran when the migration landed (it used to call
analytics.rollups, whose code may change): a change to a rollup is a new migration. The daily
buckets' time zone is ANALYTICS_TIMEZONE when the migration runs, quoted by PostgreSQL.
"""

from django.conf import settings
from django.db import migrations

# Which backend telemetry.0001 built: a partitioned readings table is plain PostgreSQL.
READINGS_ARE_PARTITIONED = (
    "SELECT EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = to_regclass('telemetry_reading'))"
)

CREATE_HOURLY_TABLE = """
CREATE TABLE analytics_telemetry_hourly_rollup (
    bucket timestamptz NOT NULL,
    well_id bigint NOT NULL,
    avg_flow_rate double precision,
    max_flow_rate double precision,
    min_flow_rate double precision,
    avg_pip double precision,
    avg_casing_pressure double precision,
    avg_tubing_pressure double precision,
    avg_motor_current double precision,
    avg_motor_temp double precision,
    max_motor_temp double precision,
    avg_intake_pressure double precision,
    avg_discharge_pressure double precision,
    avg_vibration double precision,
    reading_count bigint NOT NULL,
    first_reading timestamptz,
    last_reading timestamptz,
    PRIMARY KEY (well_id, bucket)
)"""

CREATE_DAILY_TABLE = """
CREATE TABLE analytics_telemetry_daily_rollup (
    bucket timestamptz NOT NULL,
    well_id bigint NOT NULL,
    avg_flow_rate double precision,
    stddev_flow_rate double precision,
    avg_pip double precision,
    avg_motor_current double precision,
    max_motor_current double precision,
    avg_motor_temp double precision,
    max_motor_temp double precision,
    avg_vibration double precision,
    max_vibration double precision,
    reading_count bigint NOT NULL,
    uptime_fraction double precision,
    PRIMARY KEY (well_id, bucket)
)"""

CREATE_HOURLY_BUCKET_INDEX = (
    "CREATE INDEX analytics_telemetry_hourly_rollup_bucket ON analytics_telemetry_hourly_rollup (bucket)"
)

CREATE_DAILY_BUCKET_INDEX = (
    "CREATE INDEX analytics_telemetry_daily_rollup_bucket ON analytics_telemetry_daily_rollup (bucket)"
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

CREATE_PERFORMANCE_VIEW = """
CREATE VIEW well_performance_hourly AS
SELECT h.bucket,
       h.well_id,
       LEAST(100.0, GREATEST(0.0, CASE  WHEN h.avg_flow_rate < s.min_operating_flow_bpd THEN   CASE WHEN s.min_operating_flow_bpd > 0 THEN 42 * LEAST(1.0, GREATEST(0.0, h.avg_flow_rate / s.min_operating_flow_bpd))   ELSE 0 END  WHEN h.avg_flow_rate > s.max_operating_flow_bpd THEN   42 * LEAST(1.0, GREATEST(0.0, 1 - (h.avg_flow_rate - s.max_operating_flow_bpd) / s.max_operating_flow_bpd))  WHEN s.max_operating_flow_bpd > s.min_operating_flow_bpd THEN   60 * (1 - 0.3 * ABS(h.avg_flow_rate - s.rated_flow_bpd)         / (s.max_operating_flow_bpd - s.min_operating_flow_bpd))  ELSE 60 END + CASE WHEN h.avg_motor_current > 0 THEN 40 * LEAST(1.0, GREATEST(0.0, (h.avg_flow_rate / h.avg_motor_current) / (s.rated_flow_bpd / s.motor_nameplate_current_a))) ELSE 0 END)) AS efficiency_score,
       LEAST(100.0, GREATEST(0.0, 100.0 - COALESCE(40 * LEAST(1.0, GREATEST(0.0, (h.max_motor_temp / s.motor_temp_limit_c - 0.8) / 0.2)), 0) - COALESCE(35 * LEAST(1.0, GREATEST(0.0, (h.avg_vibration / s.vibration_limit_mm_s - 0.5) / 0.5)), 0) - COALESCE(25 * LEAST(1.0, GREATEST(0.0, (ABS(h.avg_motor_current - s.motor_nameplate_current_a) / s.motor_nameplate_current_a - 0.1) / 0.4)), 0))) AS health_score,
       h.avg_flow_rate,
       h.avg_motor_current,
       h.avg_motor_temp,
       h.max_motor_temp,
       h.avg_vibration,
       h.reading_count,
       s.rated_flow_bpd,
       s.min_operating_flow_bpd,
       s.max_operating_flow_bpd,
       s.motor_nameplate_current_a,
       s.motor_temp_limit_c,
       s.vibration_limit_mm_s
FROM telemetry_hourly h
JOIN (SELECT w.id, COALESCE(w.rated_flow_bpd, 1500.0) AS rated_flow_bpd, COALESCE(w.min_operating_flow_bpd, 1000.0) AS min_operating_flow_bpd, COALESCE(w.max_operating_flow_bpd, 1900.0) AS max_operating_flow_bpd, COALESCE(w.motor_nameplate_current_a, 55.0) AS motor_nameplate_current_a, COALESCE(w.motor_temp_limit_c, 150.0) AS motor_temp_limit_c, COALESCE(w.vibration_limit_mm_s, 7.1) AS vibration_limit_mm_s FROM wells_well w) s ON s.id = h.well_id
"""

CREATE_DIAGNOSTIC_SUMMARY_VIEW = """
CREATE VIEW diagnostic_summary_daily AS
SELECT date_trunc('day', d.detected_at, {timezone}) AS bucket,
       d.well_id,
       d.severity,
       count(*) AS issue_count,
       count(DISTINCT d.diagnostic_type) AS unique_issues,
       array_agg(DISTINCT d.diagnostic_type ORDER BY d.diagnostic_type) AS issue_types
FROM analytics_diagnosticresult d
GROUP BY 1, 2, 3
"""

TIMESCALEDB_CREATE_HOURLY = """
CREATE MATERIALIZED VIEW telemetry_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 hour', r.time) AS bucket, r.well_id, 
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
GROUP BY 1, 2
WITH NO DATA
"""

TIMESCALEDB_CREATE_DAILY = """
CREATE MATERIALIZED VIEW telemetry_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 day', r.time, {timezone}) AS bucket, r.well_id, 
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
GROUP BY 1, 2
WITH NO DATA
"""

TIMESCALEDB_ADD_POLICIES = """
SELECT add_continuous_aggregate_policy('telemetry_hourly',
    start_offset => NULL, end_offset => interval '1 hour', schedule_interval => interval '1 minute');
SELECT add_continuous_aggregate_policy('telemetry_daily',
    start_offset => NULL, end_offset => interval '1 hour', schedule_interval => interval '5 minutes');
SELECT add_retention_policy('telemetry_hourly', drop_after => %(hourly_days)s * interval '1 day');
"""

TIMESCALEDB_ADD_DAILY_RETENTION = (
    "SELECT add_retention_policy('telemetry_daily', drop_after => %(daily_days)s * interval '1 day')"
)

DROP_SHARED_VIEWS = """
DROP VIEW IF EXISTS diagnostic_summary_daily;
DROP VIEW IF EXISTS well_performance_hourly;
"""

DROP_POSTGRES_ROLLUPS = (
    "DROP VIEW IF EXISTS telemetry_daily; DROP VIEW IF EXISTS telemetry_hourly;"
    " DROP FUNCTION IF EXISTS telemetry_daily_from_raw; DROP FUNCTION IF EXISTS telemetry_hourly_from_raw;"
    " DROP TABLE IF EXISTS analytics_telemetry_daily_rollup; DROP TABLE IF EXISTS analytics_telemetry_hourly_rollup;"
)

DROP_TIMESCALEDB_ROLLUPS = (
    "DROP MATERIALIZED VIEW IF EXISTS telemetry_daily; DROP MATERIALIZED VIEW IF EXISTS telemetry_hourly;"
)


def _is_postgres(cursor):
    cursor.execute(READINGS_ARE_PARTITIONED)
    return cursor.fetchone()[0]


def _timezone_literal(cursor):
    cursor.execute("SELECT quote_literal(%s)", [settings.ANALYTICS_TIMEZONE])
    return cursor.fetchone()[0]


def create_rollups(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        timezone = _timezone_literal(cursor)
        if _is_postgres(cursor):
            cursor.execute(CREATE_HOURLY_TABLE)
            cursor.execute(CREATE_DAILY_TABLE)
            cursor.execute(CREATE_HOURLY_BUCKET_INDEX)
            cursor.execute(CREATE_DAILY_BUCKET_INDEX)
            cursor.execute(CREATE_HOURLY_FROM_RAW)
            cursor.execute(CREATE_DAILY_FROM_RAW)
            cursor.execute(CREATE_HOURLY_VIEW)
            cursor.execute(CREATE_DAILY_VIEW.format(timezone=timezone))
        else:
            cursor.execute(TIMESCALEDB_CREATE_HOURLY)
            cursor.execute(TIMESCALEDB_CREATE_DAILY.format(timezone=timezone))
            cursor.execute(TIMESCALEDB_ADD_POLICIES, {"hourly_days": settings.ROLLUP_HOURLY_RETENTION_DAYS})
            if settings.ROLLUP_DAILY_RETENTION_DAYS:
                cursor.execute(TIMESCALEDB_ADD_DAILY_RETENTION, {"daily_days": settings.ROLLUP_DAILY_RETENTION_DAYS})
        cursor.execute(CREATE_PERFORMANCE_VIEW)
        cursor.execute(CREATE_DIAGNOSTIC_SUMMARY_VIEW.format(timezone=timezone))


def drop_rollups(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP_SHARED_VIEWS)
        cursor.execute(DROP_POSTGRES_ROLLUPS if _is_postgres(cursor) else DROP_TIMESCALEDB_ROLLUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_create_diagnostic_result"),
        ("telemetry", "0001_create_reading_storage"),
    ]

    operations = [migrations.RunPython(create_rollups, drop_rollups)]
