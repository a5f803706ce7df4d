"""Pending buckets computed per well in one planned query, and the local days' time zone as a function.

- ``telemetry_hourly_pending(well)`` / ``telemetry_daily_pending(well)`` replace the per-bucket
  functions of 0003: those ran one cached plan per pending bucket, and a cached plan over the
  partitioned readings table locks every partition (milliseconds per pending bucket). The new ones
  aggregate all of a well's pending buckets in one query planned with its actual bounds.
- ``analytics_timezone()`` returns ANALYTICS_TIMEZONE as it is when this migration runs; the views,
  the refresh and the API read local days through it instead of a literal in each view, so the
  database has one place that says which zone its daily rollups are in (``analytics.checks``
  compares it with the setting). TimescaleDB's daily aggregate keeps the zone it was built with.
- ``well_performance_hourly`` joins the wells directly: the pump specification fields are required,
  so the COALESCE with default specifications never applied.

The DDL is literal here, copied from ``analytics.rollups`` when this migration was written.
"""

import importlib

from django.conf import settings
from django.db import migrations

READINGS_ARE_PARTITIONED = (
    "SELECT EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = to_regclass('telemetry_reading'))"
)

# DDL takes no bind parameters: PostgreSQL quotes the zone (format %L) and returns the statement.
ANALYTICS_TIMEZONE_DDL = """
SELECT format(
    'CREATE OR REPLACE FUNCTION analytics_timezone() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %%L',
    format('SELECT %%L::text', %s::text)
)
"""

CREATE_HOURLY_PENDING = """
CREATE OR REPLACE FUNCTION telemetry_hourly_pending(p_well bigint)
RETURNS TABLE (bucket timestamptz, avg_flow_rate double precision, max_flow_rate double precision, min_flow_rate double precision, avg_pip double precision, avg_casing_pressure double precision, avg_tubing_pressure double precision, avg_motor_current double precision, avg_motor_temp double precision, max_motor_temp double precision, avg_intake_pressure double precision, avg_discharge_pressure double precision, avg_vibration double precision, reading_count bigint, first_reading timestamptz, last_reading timestamptz)
LANGUAGE plpgsql STABLE AS $function$
DECLARE
    hours timestamptz[];
BEGIN
    SELECT array_agg(DISTINCT c.hour ORDER BY c.hour) INTO hours FROM telemetry_readingchange c WHERE c.well_id = p_well;
    IF hours IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
    SELECT p.bucket, raw.*
    FROM unnest($2) AS p (bucket)
    CROSS JOIN LATERAL (
        SELECT avg(r.flow_rate) AS avg_flow_rate,
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
        WHERE r.well_id = $1 AND r.time >= p.bucket AND r.time < p.bucket + interval '1 hour'
          AND r.time >= $3 AND r.time < $4 + interval '1 hour'
        HAVING count(*) > 0
    ) raw
    $query$ USING p_well, hours, hours[1], hours[cardinality(hours)];
END
$function$
"""

CREATE_DAILY_PENDING = """
CREATE OR REPLACE FUNCTION telemetry_daily_pending(p_well bigint)
RETURNS TABLE (bucket timestamptz, avg_flow_rate double precision, stddev_flow_rate double precision, avg_pip double precision, avg_motor_current double precision, max_motor_current double precision, avg_motor_temp double precision, max_motor_temp double precision, avg_vibration double precision, max_vibration double precision, reading_count bigint, uptime_fraction double precision)
LANGUAGE plpgsql STABLE AS $function$
DECLARE
    days timestamptz[];
BEGIN
    SELECT array_agg(DISTINCT d.day ORDER BY d.day) INTO days
    FROM telemetry_readingchange c,
         LATERAL (VALUES (date_trunc('day', c.hour, analytics_timezone())),
                         (date_trunc('day', c.hour + interval '1 hour' - interval '1 microsecond',
                                     analytics_timezone()))) AS d (day)
    WHERE c.well_id = p_well;
    IF days IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
    SELECT p.bucket, raw.*
    FROM unnest($2) AS p (bucket)
    CROSS JOIN LATERAL (
        SELECT avg(r.flow_rate) AS avg_flow_rate,
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
        WHERE r.well_id = $1 AND r.time >= p.bucket AND r.time < p.bucket + interval '26 hours'
          AND date_trunc('day', r.time, analytics_timezone()) = p.bucket
          AND r.time >= $3 AND r.time < $4 + interval '26 hours'
        HAVING count(*) > 0
    ) raw
    $query$ USING p_well, days, days[1], days[cardinality(days)];
END
$function$
"""

CREATE_HOURLY_VIEW = """
CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT m.bucket, m.well_id, m.avg_flow_rate, m.max_flow_rate, m.min_flow_rate, m.avg_pip, m.avg_casing_pressure, m.avg_tubing_pressure, m.avg_motor_current, m.avg_motor_temp, m.max_motor_temp, m.avg_intake_pressure, m.avg_discharge_pressure, m.avg_vibration, m.reading_count, m.first_reading, m.last_reading
FROM analytics_telemetry_hourly_rollup m
WHERE NOT EXISTS (SELECT 1 FROM telemetry_readingchange c WHERE c.well_id = m.well_id AND c.hour = m.bucket)
UNION ALL
SELECT raw.bucket, p.well_id, raw.avg_flow_rate, raw.max_flow_rate, raw.min_flow_rate, raw.avg_pip, raw.avg_casing_pressure, raw.avg_tubing_pressure, raw.avg_motor_current, raw.avg_motor_temp, raw.max_motor_temp, raw.avg_intake_pressure, raw.avg_discharge_pressure, raw.avg_vibration, raw.reading_count, raw.first_reading, raw.last_reading
FROM (SELECT DISTINCT c.well_id FROM telemetry_readingchange c) p
CROSS JOIN LATERAL telemetry_hourly_pending(p.well_id) raw
"""

CREATE_DAILY_VIEW = """
CREATE OR REPLACE VIEW telemetry_daily AS
SELECT m.bucket, m.well_id, m.avg_flow_rate, m.stddev_flow_rate, m.avg_pip, m.avg_motor_current, m.max_motor_current, m.avg_motor_temp, m.max_motor_temp, m.avg_vibration, m.max_vibration, m.reading_count, m.uptime_fraction
FROM analytics_telemetry_daily_rollup m
WHERE NOT EXISTS (
    SELECT 1 FROM telemetry_readingchange c
    WHERE c.well_id = m.well_id
      AND m.bucket IN (date_trunc('day', c.hour, analytics_timezone()),
                       date_trunc('day', c.hour + interval '1 hour' - interval '1 microsecond', analytics_timezone()))
)
UNION ALL
SELECT raw.bucket, p.well_id, raw.avg_flow_rate, raw.stddev_flow_rate, raw.avg_pip, raw.avg_motor_current, raw.max_motor_current, raw.avg_motor_temp, raw.max_motor_temp, raw.avg_vibration, raw.max_vibration, raw.reading_count, raw.uptime_fraction
FROM (SELECT DISTINCT c.well_id FROM telemetry_readingchange c) p
CROSS JOIN LATERAL telemetry_daily_pending(p.well_id) raw
"""

DROP_PER_BUCKET_FUNCTIONS = (
    "DROP FUNCTION telemetry_hourly_from_raw(bigint, timestamptz);"
    " DROP FUNCTION telemetry_daily_from_raw(bigint, timestamptz, text)"
)

CREATE_DIAGNOSTIC_SUMMARY_VIEW = """
CREATE OR REPLACE VIEW diagnostic_summary_daily AS
SELECT date_trunc('day', d.detected_at, analytics_timezone()) AS bucket,
       d.well_id,
       d.severity,
       count(*) AS issue_count,
       count(DISTINCT d.diagnostic_type) AS unique_issues,
       array_agg(DISTINCT d.diagnostic_type ORDER BY d.diagnostic_type) AS issue_types
FROM analytics_diagnosticresult d
GROUP BY 1, 2, 3
"""

CREATE_PERFORMANCE_VIEW = """
CREATE OR REPLACE VIEW well_performance_hourly AS
SELECT h.bucket,
       h.well_id,
       LEAST(100.0, GREATEST(0.0,
    CASE
        WHEN h.avg_flow_rate < s.min_operating_flow_bpd THEN
            CASE WHEN s.min_operating_flow_bpd > 0
                 THEN 42 * LEAST(1.0, GREATEST(0.0, h.avg_flow_rate / s.min_operating_flow_bpd))
                 ELSE 0 END
        WHEN h.avg_flow_rate > s.max_operating_flow_bpd THEN
            42 * LEAST(1.0, GREATEST(0.0, 1 - (h.avg_flow_rate - s.max_operating_flow_bpd) / s.max_operating_flow_bpd))
        WHEN s.max_operating_flow_bpd > s.min_operating_flow_bpd THEN
            60 * (1 - 0.3 * ABS(h.avg_flow_rate - s.rated_flow_bpd)
                  / (s.max_operating_flow_bpd - s.min_operating_flow_bpd))
        ELSE 60 END
    + CASE WHEN h.avg_motor_current > 0
           THEN 40 * LEAST(1.0, GREATEST(0.0,
               (h.avg_flow_rate / h.avg_motor_current) / (s.rated_flow_bpd / s.motor_nameplate_current_a)))
           ELSE 0 END)) AS efficiency_score,
       LEAST(100.0, GREATEST(0.0, 100.0
    - COALESCE(40 * LEAST(1.0, GREATEST(0.0, (h.max_motor_temp / s.motor_temp_limit_c - 0.8) / 0.2)), 0)
    - COALESCE(35 * LEAST(1.0, GREATEST(0.0, (h.avg_vibration / s.vibration_limit_mm_s - 0.5) / 0.5)), 0)
    - COALESCE(25 * LEAST(1.0, GREATEST(0.0,
        (ABS(h.avg_motor_current - s.motor_nameplate_current_a) / s.motor_nameplate_current_a - 0.1) / 0.4)), 0))) AS health_score,
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
JOIN wells_well s ON s.id = h.well_id
"""

DROP_PER_WELL_FUNCTIONS = (
    "DROP FUNCTION telemetry_hourly_pending(bigint); DROP FUNCTION telemetry_daily_pending(bigint)"
)

DROP_ANALYTICS_TIMEZONE = "DROP FUNCTION analytics_timezone()"


def _is_postgres(cursor):
    cursor.execute(READINGS_ARE_PARTITIONED)
    return cursor.fetchone()[0]


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ANALYTICS_TIMEZONE_DDL, [settings.ANALYTICS_TIMEZONE])
        cursor.execute(cursor.fetchone()[0])
        if _is_postgres(cursor):
            cursor.execute(CREATE_HOURLY_PENDING)
            cursor.execute(CREATE_DAILY_PENDING)
            cursor.execute(CREATE_HOURLY_VIEW)
            cursor.execute(CREATE_DAILY_VIEW)
            cursor.execute(DROP_PER_BUCKET_FUNCTIONS)
        cursor.execute(CREATE_PERFORMANCE_VIEW)
        cursor.execute(CREATE_DIAGNOSTIC_SUMMARY_VIEW)


def backwards(apps, schema_editor):
    """Back to 0003's views and functions, with the zone analytics_timezone() held as their literal."""
    created = importlib.import_module("analytics.migrations.0002_create_rollups")
    per_bucket = importlib.import_module("analytics.migrations.0003_plan_pending_buckets_per_bucket")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_literal(analytics_timezone())")
        (timezone,) = cursor.fetchone()
        cursor.execute("DROP VIEW diagnostic_summary_daily; DROP VIEW well_performance_hourly")
        cursor.execute(created.CREATE_DIAGNOSTIC_SUMMARY_VIEW.format(timezone=timezone))
        cursor.execute(created.CREATE_PERFORMANCE_VIEW)
        if _is_postgres(cursor):
            cursor.execute(per_bucket.CREATE_HOURLY_FROM_RAW)
            cursor.execute(per_bucket.CREATE_DAILY_FROM_RAW)
            cursor.execute(per_bucket.CREATE_HOURLY_VIEW)
            cursor.execute(per_bucket.CREATE_DAILY_VIEW.format(timezone=timezone))
            cursor.execute(DROP_PER_WELL_FUNCTIONS)
        cursor.execute(DROP_ANALYTICS_TIMEZONE)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_add_condition_types_and_one_finding_per_window")]

    operations = [migrations.RunPython(forwards, backwards)]
