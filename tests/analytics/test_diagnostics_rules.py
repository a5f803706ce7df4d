"""The diagnostics rules without a database: one simulated episode of every condition, on a well with its
own pump, is found with the right type in time; a healthy well's restart after a planned shut-in and its
operating changes raise nothing. (``make diagnostics-eval`` runs five episodes of each and 20 healthy
well-weeks; this is the quick guard in ``make test``.)"""

import dataclasses
import datetime

import pytest

from analytics.diagnostics.rules import diagnose
from tests.benchmarks import diagnostics_scenarios as suite

FIRST_EPISODES = {scenario.condition: scenario for scenario in reversed(suite.fault_scenarios())}


def alarming_types(scenario, start, end):
    """Every warning/critical type the rules report at the 5-minute runs in [start, end]."""
    run = suite.run_scenario(dataclasses.replace(scenario, first_run=start, end=end), diagnose)
    return set().union(*(types for _, types in run.alarming))


@pytest.mark.parametrize("condition", suite.CONDITIONS)
def test_it_finds_each_condition_with_the_right_type_in_time(condition):
    scenario = FIRST_EPISODES[condition]
    onset = scenario.onset or scenario.faults[0].start
    if condition == "high_motor_temp":  # scored from the first reading over the limit, found in the readings
        hour_after = dataclasses.replace(scenario, first_run=onset, end=onset + datetime.timedelta(hours=1))
        onset = suite.run_scenario(hour_after, diagnose).onset
    assert condition in alarming_types(scenario, onset, onset + suite.TARGETS[condition])


def test_a_restart_after_a_planned_shut_in_and_operating_changes_raise_nothing():
    healthy = next(s for s in suite.healthy_scenarios() if any(c.kind == "shut_in" for c in s.changes))
    shut_in = next(c for c in healthy.changes if c.kind == "shut_in")
    restart = shut_in.start + shut_in.duration
    assert alarming_types(healthy, restart, restart + datetime.timedelta(hours=2)) == set()
    assert alarming_types(healthy, healthy.healthy_until - datetime.timedelta(days=1), healthy.healthy_until) == set()


def test_a_well_that_is_not_active_gets_no_findings():
    scenario = FIRST_EPISODES["broken_shaft"]
    onset = scenario.faults[0].start
    _, readings = suite.simulate(dataclasses.replace(scenario, end=onset + datetime.timedelta(minutes=30)))
    now = readings[-1].time
    recent = [r for r in readings if r.time >= now - datetime.timedelta(hours=2)]
    hourly = suite.hourly_rows([r for r in readings if r.time < now.replace(minute=0, second=0)])
    assert {f.diagnostic_type for f in diagnose(scenario.well_spec("active"), recent, hourly, now)} == {"broken_shaft"}
    for status in ("shut_in", "maintenance", "decommissioned"):
        assert diagnose(scenario.well_spec(status), recent, hourly, now) == []


def test_without_a_week_of_history_it_judges_by_the_pump_spec_and_anomalies_stay_info():
    scenario = FIRST_EPISODES["overload"]
    onset = scenario.faults[0].start
    _, readings = suite.simulate(dataclasses.replace(scenario, end=onset + datetime.timedelta(minutes=20)))
    now = readings[-1].time
    recent = [r for r in readings if r.time >= now - datetime.timedelta(hours=2)]
    findings = diagnose(scenario.well_spec("active"), recent, [], now)  # no hourly rows: no baseline
    assert "overload" in {f.diagnostic_type for f in findings}
    assert all(f.severity == "info" for f in findings if f.diagnostic_type == "anomaly")


def test_each_finding_carries_its_evidence_and_an_action():
    scenario = FIRST_EPISODES["broken_shaft"]
    onset = scenario.faults[0].start
    _, readings = suite.simulate(dataclasses.replace(scenario, end=onset + datetime.timedelta(minutes=15)))
    now = readings[-1].time
    recent = [r for r in readings if r.time >= now - datetime.timedelta(hours=2)]
    hourly = suite.hourly_rows([r for r in readings if r.time < now.replace(minute=0, second=0)])
    (finding,) = diagnose(scenario.well_spec("active"), recent, hourly, now)
    assert finding.evidence["flow_bpd"] < 0.1 * finding.evidence["normal_flow_bpd"]
    assert finding.evidence["current_a"] < finding.evidence["normal_current_a"]
    assert 0 < finding.confidence <= 1 and finding.recommended_action
    assert finding.window_end == now
