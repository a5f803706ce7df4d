"""Prometheus metrics of the analytics jobs (rollup refresh, diagnostics), incremented where they run.

They run in Celery worker processes; with ``PROMETHEUS_MULTIPROC_DIR`` set there, the web server's
``/metrics`` (``operations``) adds them up with every other process's. The rollup *lag* is not here:
it is a database fact, read by operations' collector (``analytics.rollups.refresh_lag``).
"""

import contextlib
import time

from prometheus_client import Counter, Gauge, Histogram

from analytics.models import DiagnosticType, Severity

ROLLUP_REFRESH_DURATION = Histogram(
    "esp_rollup_refresh_duration_seconds",
    "Time one rollup refresh took (successful or not), seconds.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
ROLLUP_REFRESH_FAILURES = Counter("esp_rollup_refresh_failures", "Rollup refreshes that raised.")
ROLLUP_REFRESH_LAST_SUCCESS = Gauge(
    "esp_rollup_refresh_last_success_timestamp_seconds",
    "Unix time the last rollup refresh finished without error (0: none since the workers started).",
    multiprocess_mode="max",
)

DIAGNOSTICS_RUNS = Counter("esp_diagnostics_runs", "Fleet diagnostics cycles completed.")
DIAGNOSTICS_RUN_DURATION = Histogram(
    "esp_diagnostics_run_duration_seconds",
    "Time one fleet diagnostics cycle took, seconds (the beat interval is DIAGNOSTICS_INTERVAL).",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
DIAGNOSTICS_WELLS = Counter(
    "esp_diagnostics_wells", "Wells diagnosed by fleet cycles, by outcome (ok, failed).", ["outcome"]
)
DIAGNOSTICS_FINDINGS = Counter(
    "esp_diagnostics_findings",
    "Findings of diagnostics runs (fleet and run-now; a replayed window counts again), by type and severity.",
    ["type", "severity"],
)

_findings = {
    (kind, severity): DIAGNOSTICS_FINDINGS.labels(kind, severity)
    for kind in DiagnosticType.values
    for severity in Severity.values
}
_wells_ok = DIAGNOSTICS_WELLS.labels("ok")
_wells_failed = DIAGNOSTICS_WELLS.labels("failed")


@contextlib.contextmanager
def refreshing_rollups():
    """Times the block as one rollup refresh; a block that returns marks the last success."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        ROLLUP_REFRESH_FAILURES.inc()
        raise
    finally:
        ROLLUP_REFRESH_DURATION.observe(time.perf_counter() - started)
    ROLLUP_REFRESH_LAST_SUCCESS.set(time.time())


def timing_fleet_run():
    """Context manager observing a fleet cycle's duration."""
    return DIAGNOSTICS_RUN_DURATION.time()


def fleet_ran(outcome):
    """Count a finished fleet cycle (``analytics.diagnostics.engine.FleetRun``)."""
    DIAGNOSTICS_RUNS.inc()
    _wells_ok.inc(outcome.wells)
    _wells_failed.inc(outcome.failed_wells)


def count_findings(findings):
    """Count what one well's run found, by type and severity."""
    for finding in findings:
        child = _findings.get((finding.diagnostic_type, finding.severity))
        if child is None:  # a type or severity added without a restart of this process: still counted
            child = DIAGNOSTICS_FINDINGS.labels(finding.diagnostic_type, finding.severity)
        child.inc()
