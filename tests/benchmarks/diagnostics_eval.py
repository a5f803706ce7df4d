"""Detection scenario suite: every condition the diagnostics engine knows, and healthy wells with a field's
normal operating changes, through ``analytics.diagnostics.rules.diagnose`` every five minutes.

The scenarios (``tests/benchmarks/diagnostics_scenarios.py``): for each condition, 5 episodes on wells
with their own pumps and operating points after a week of healthy history; 20 healthy wells over a week
of choke steps, drive setpoint changes and planned shut-ins, after a week of their own history. Prints
condition × detected / missed / time from onset to the first warning-or-critical finding of the right
type, and the false warning/critical alarms per well-week. Fails when a target is missed: every episode
detected with the right type within 15 minutes of onset (30 for the slow conditions, a day for
scale_wear), and at most 0.1 false alarms per well-week. No database: run with ``make diagnostics-eval``.
"""

import time

import pytest

from analytics.diagnostics import rules
from analytics.models import DiagnosticType, Severity
from tests.benchmarks import diagnostics_scenarios as suite


def test_every_condition_is_detected_in_time_and_healthy_wells_raise_few_false_alarms():
    began = time.perf_counter()
    scenarios = suite.all_scenarios()
    results = suite.run_all(scenarios, rules.diagnose)
    report = suite.score(scenarios, results)
    elapsed = time.perf_counter() - began

    runs = sum(result.runs for result in results.values())
    diagnose_s = sum(result.diagnose_s for result in results.values())
    simulate_s = sum(result.simulate_s for result in results.values())
    print()
    print(suite.format_report(report))
    print(
        f"\n{len(scenarios)} wells, {runs:,} diagnostics runs in {elapsed:.0f} s "
        f"(diagnose {diagnose_s / runs * 1e3:.2f} ms a run, {diagnose_s:.0f} s; simulation {simulate_s:.0f} s; "
        "summed over the workers)"
    )

    seen = frozenset().union(*(result.seen for result in results.values()))
    known = {(kind, severity) for kind in DiagnosticType.values for severity in Severity.values}
    unknown = sorted(seen - known)
    if unknown:
        pytest.fail(f"findings outside analytics.models' vocabulary: {unknown}", pytrace=False)
    if failures := report.failures():
        pytest.fail("targets missed:\n" + "\n".join(failures), pytrace=False)
