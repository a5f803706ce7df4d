"""Relations that are the same on both backends: scores and the diagnostic summary are views.

``well_performance_hourly`` is computed when read from ``telemetry_hourly`` and the wells' current
pump specifications: a materialized score would keep the specification it was computed with after
an engineer corrects it, and scoring a day of hourly rows costs microseconds.
``diagnostic_summary_daily`` groups the diagnostic results, a few per well per day, at read time
through the (well, detected_at) index; there is nothing worth materializing.

``analytics_timezone()`` is the time zone of local days, fixed in the database when a migration
deploys it (ANALYTICS_TIMEZONE then); ``analytics.checks`` reports when the setting has moved.
"""

from analytics import scoring

# The migration that deployed the definitions below as written here.
DEPLOYED_BY = "0005_pending_buckets_per_well_and_analytics_timezone"

ANALYTICS_TIMEZONE = "SELECT analytics_timezone()"


def performance_view():
    """The query of ``well_performance_hourly``, with the formulas of ``analytics.scoring`` as they are now."""
    return f"""
SELECT h.bucket,
       h.well_id,
       {scoring.EFFICIENCY_SQL} AS efficiency_score,
       {scoring.HEALTH_SQL} AS health_score,
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


DIAGNOSTIC_SUMMARY_VIEW = """
SELECT date_trunc('day', d.detected_at, analytics_timezone()) AS bucket,
       d.well_id,
       d.severity,
       count(*) AS issue_count,
       count(DISTINCT d.diagnostic_type) AS unique_issues,
       array_agg(DISTINCT d.diagnostic_type ORDER BY d.diagnostic_type) AS issue_types
FROM analytics_diagnosticresult d
GROUP BY 1, 2, 3
"""


def definitions():
    """The shared views as (kind, name, query): checked by analytics.checks."""
    return [
        ("view", "well_performance_hourly", performance_view()),
        ("view", "diagnostic_summary_daily", DIAGNOSTIC_SUMMARY_VIEW),
    ]
