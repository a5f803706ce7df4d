"""What the API fuzz tests share: the schema as the platform publishes it, the WSGI app they call in
process, callers of every role, and the tally of cases and failures printed at the end of the run."""

import collections

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

# Cases sent and failures found, per run, for the closing summary (README "Reliability" quotes it).
TALLY = collections.Counter()


def pytest_terminal_summary(terminalreporter):
    failed = [report for report in terminalreporter.stats.get("failed", []) if "tests/fuzz/" in report.nodeid]
    if TALLY["cases"]:
        terminalreporter.write_line(
            f"API fuzz: {TALLY['operations']} operations, {TALLY['cases']} generated cases, "
            f"{TALLY['requests']} requests (each case as anonymous, viewer, operator and admin), "
            f"{len(failed)} operations with a failing case, "
            f"{TALLY['error_body_gaps']} 4xx bodies without the API's error shape"
        )


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Four callers from one address send hundreds of requests a minute in `make fuzz`: the limits would
    answer 429 (documented, so no failure) instead of exercising the operation."""
    settings.API_RATE_LIMITS = {scope: {"user": 10**9, "ip": 10**9} for scope in ("read", "write", "ingest")}


@pytest.fixture(scope="session")
def wsgi_app():
    return get_wsgi_application()


@pytest.fixture
def in_process_requests():
    """Keeps Django from closing the test's connection between requests, as its test client does: the
    WSGI app runs in the test's thread, inside the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
