"""`manage.py check` tells when the rollups the database has deployed are not what the code defines.

Migrations hold literal DDL, so a formula edited in Python reaches no database until a migration
carries it; these tests edit the code (or the database) and run Django's checks as `manage.py
check` does.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from analytics import scoring

pytestmark = pytest.mark.django_db

NEWEST = "0005_pending_buckets_per_well_and_analytics_timezone"


def check_output():
    """What `manage.py check --fail-level WARNING` reports, or "" when it passes."""
    try:
        call_command("check", fail_level="WARNING")
    except SystemCheckError as error:
        return str(error)
    return ""


def test_it_passes_when_the_database_has_what_the_code_defines():
    assert check_output() == ""


def test_it_catches_a_scoring_formula_edited_without_a_migration(monkeypatch):
    # The motor-temperature penalty starting at 75 % of the limit instead of 80 %.
    edited = scoring.HEALTH_SQL.replace("s.motor_temp_limit_c - 0.8) / 0.2", "s.motor_temp_limit_c - 0.75) / 0.25")
    assert edited != scoring.HEALTH_SQL
    monkeypatch.setattr(scoring, "HEALTH_SQL", edited)
    output = check_output()
    assert "well_performance_hourly" in output
    assert "changed without a migration" in output
    assert NEWEST in output


def test_it_names_the_migration_to_run_when_the_database_is_behind():
    # As if this database had not run the newest rollup migration yet (the test's transaction
    # rolls both changes back).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'analytics' AND name = %s", [NEWEST])
        cursor.execute(
            """
            CREATE OR REPLACE VIEW diagnostic_summary_daily AS
            SELECT date_trunc('day', d.detected_at, 'UTC') AS bucket, d.well_id, d.severity,
                   count(*) AS issue_count, count(DISTINCT d.diagnostic_type) AS unique_issues,
                   array_agg(DISTINCT d.diagnostic_type ORDER BY d.diagnostic_type) AS issue_types
            FROM analytics_diagnosticresult d GROUP BY 1, 2, 3
            """
        )
    output = check_output()
    assert "diagnostic_summary_daily" in output
    assert f"Run `manage.py migrate analytics` (analytics.{NEWEST} is not applied)" in output


def test_it_catches_a_moved_analytics_timezone(settings):
    deployed = settings.ANALYTICS_TIMEZONE
    settings.ANALYTICS_TIMEZONE = "UTC" if deployed != "UTC" else "Asia/Riyadh"
    output = check_output()
    assert f"cut on local days of {deployed}" in output
    assert f"ANALYTICS_TIMEZONE={deployed}" in output


@pytest.mark.django_db(databases=[])
def test_it_is_silent_when_there_is_no_database_yet():
    unreachable = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/esp_does_not_exist_h2check"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=unreachable,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
