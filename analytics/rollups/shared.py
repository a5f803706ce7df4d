"""Relations that are the same on both backends: scores and the diagnostic summary are views.

``well_performance_hourly`` is computed when read from ``telemetry_hourly`` and the wells' current
pump specifications: a materialized score would keep the specification it was computed with after
an engineer corrects it, and scoring a day of hourly rows costs microseconds.
``diagnostic_summary_daily`` groups the diagnostic results, a few per well per day, at read time
through the (well, detected_at) index; there is nothing worth materializing.
"""

from analytics.scoring import EFFICIENCY_SQL, HEALTH_SQL, SPECS_SQL

CREATE_PERFORMANCE_VIEW = f"""
CREATE VIEW well_performance_hourly AS
SELECT h.bucket,
       h.well_id,
       {EFFICIENCY_SQL} AS efficiency_score,
       {HEALTH_SQL} AS health_score,
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
JOIN (SELECT w.id, {SPECS_SQL} FROM wells_well w) s ON s.id = h.well_id
"""

# %(tz)s is the analytics time zone, bound when the view is created (a literal in the view).
CREATE_DIAGNOSTIC_SUMMARY_VIEW = """
CREATE VIEW diagnostic_summary_daily AS
SELECT date_trunc('day', d.detected_at, {tz}) AS bucket,
       d.well_id,
       d.severity,
       count(*) AS issue_count,
       count(DISTINCT d.diagnostic_type) AS unique_issues,
       array_agg(DISTINCT d.diagnostic_type ORDER BY d.diagnostic_type) AS issue_types
FROM analytics_diagnosticresult d
GROUP BY 1, 2, 3
"""

DROP_SHARED_VIEWS = """
DROP VIEW IF EXISTS diagnostic_summary_daily;
DROP VIEW IF EXISTS well_performance_hourly;
"""
