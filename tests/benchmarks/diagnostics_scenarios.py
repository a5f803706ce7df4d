"""The diagnostics evaluation's scenarios, the loop that runs the engine over them, and the scoring.

Pure code over data, no database: each scenario is one simulated well (``telemetry.simulator``) with its
own pump, drawn from a seeded generator, read every minute; ``analytics.diagnostics.rules.diagnose`` is
called on it every five minutes, as Celery beat does, with exactly what its docstring asks for (the raw
readings of the recent window and the complete hourly rollup rows of the baseline window, computed here
in the ``telemetry_hourly`` shape). ``make diagnostics-eval`` (``tests/benchmarks/diagnostics_eval.py``)
runs every scenario and prints the table.

Two sets of scenarios (``all_scenarios``):
- Fault scenarios: for each condition, ``EPISODES_PER_CONDITION`` wells with a week of healthy history,
  then the condition's episode from its onset. The engine runs over the whole week too: those runs count
  toward false alarms (with a baseline that grows from nothing, as on a newly connected well).
- Healthy wells: ``HEALTHY_WELLS`` wells over two weeks of operating changes a field makes that are not
  faults (choke steps, drive setpoint changes, planned shut-ins with their restarts); the engine runs over
  the second week, with the first as its baseline.
"""

import bisect
import dataclasses
import datetime
import functools
import math
import multiprocessing
import os
import random
import statistics
import time
import traceback
from collections import Counter, defaultdict

from analytics.diagnostics.rules import BASELINE_WINDOW, RECENT_WINDOW, Reading, WellSpec
from telemetry.simulator.faults import FaultEpisode, OperatingChange
from telemetry.simulator.model import METRIC_NAMES, PAYLOAD_DECIMALS, PumpSpec, WellSimulator

SEED = 20260901
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)
READING_INTERVAL = MINUTE
RUN_INTERVAL = 5 * MINUTE  # Celery beat's diagnostics schedule
HISTORY = WEEK  # healthy running before a fault's onset; a healthy well's baseline week
EPISODES_PER_CONDITION = 5
HEALTHY_WELLS = 20
# A type reported again by the same well within this long of its last report is the same alarm (the
# alarm's return-to-normal rule); later, it is a new one.
ALARM_QUIET = 15 * MINUTE
ALARMING = frozenset({"warning", "critical"})
FALSE_ALARMS_PER_WELL_WEEK_TARGET = 0.1

# Time from onset to the first warning or critical finding of the right type. Detection counts up to
# twice the target after onset; the target itself is what the suite asserts.
SLOW = ("pump_off", "gas_interference", "tubing_leak", "plugged_intake", "out_of_range")
TARGETS = {
    "pump_off": 30 * MINUTE,
    "gas_interference": 30 * MINUTE,
    "gas_lock": 15 * MINUTE,
    "broken_shaft": 15 * MINUTE,
    "tubing_leak": 30 * MINUTE,
    "plugged_intake": 30 * MINUTE,
    "deadhead": 15 * MINUTE,
    "scale_wear": DAY,
    "overload": 15 * MINUTE,
    "high_motor_temp": 15 * MINUTE,
    "high_vibration": 15 * MINUTE,
    "power_trip": 15 * MINUTE,
    "frequent_restarts": 15 * MINUTE,
    "out_of_range": 30 * MINUTE,
    "stale_sensor": 15 * MINUTE,
    "no_data": 15 * MINUTE,
}
CONDITIONS = tuple(TARGETS)

# Pump and well figures drawn per scenario: ranges of 400-675 series ESPs, none of them a demo well's.
RATED_FLOW_BPD = (300.0, 6000.0)  # log-uniform
PUMP_STAGES = (60, 400)
NAMEPLATE_CURRENT_A = (25.0, 150.0)
MOTOR_TEMP_LIMIT_C = (120.0, 204.0)  # at least 40 °C above the well's bottom-hole temperature
VIBRATION_LIMIT_MM_S = (4.0, 12.0)
MIN_FLOW_SHARE = (0.60, 0.75)  # recommended range, as shares of the rated flow
MAX_FLOW_SHARE = (1.20, 1.35)
TIMEZONES = (
    "Asia/Riyadh",
    "America/Chicago",
    "Asia/Kuala_Lumpur",
    "America/Bogota",
    "Africa/Lagos",
    "America/Edmonton",
    "Asia/Muscat",
    "Australia/Perth",
)
# Scenarios start within a month of this day (UTC), at any minute.
FIRST_DAY = datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)
# A healthy operating point keeps this margin inside the recommended range (a share of its bounds).
RANGE_MARGIN = 0.05

# Conditions that are one simulator fault from the onset to past the scored window.
SIMPLE_EPISODES = (
    "pump_off",
    "gas_interference",
    "gas_lock",
    "broken_shaft",
    "tubing_leak",
    "plugged_intake",
    "deadhead",
    "overload",
    "high_vibration",
    "power_trip",
    "stale_sensor",
)
# frequent_restarts: this many short trips; the onset is the start of the ``RESTARTS_ONSET_TRIP``-th.
RESTART_TRIPS = 4
RESTARTS_ONSET_TRIP = 3
# scale_wear's drift reaches its full size (flow -25 %, current +30 %) over this many days.
SCALE_WEAR_DRIFT_DAYS = (3.0, 5.0)

# Sensors some healthy wells don't have (their readings carry None).
MISSING_SENSOR_SETS = (
    ("vibration",),
    ("casing_pressure", "intake_pressure"),
    ("tubing_pressure", "discharge_pressure"),
    ("motor_temp", "vibration"),
)

assert Reading._fields[1:] == METRIC_NAMES, "rules.Reading must follow telemetry_reading's column order"


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One simulated well: its pump, what happens to it, and which runs of the engine are scored how.

    Runs are every ``RUN_INTERVAL`` over [first_run, end]. Runs before ``healthy_until`` are healthy
    running: every warning or critical alarm there is a false alarm. From ``onset`` (a fault scenario
    only) the episode is scored: detected by the first run in [onset, onset + 2 × target] reporting
    ``condition`` as a warning or critical finding.
    """

    name: str
    condition: str | None  # None: a healthy well
    seed: int  # the simulator's: with the well id, it draws the well's operating point
    pump: PumpSpec
    min_flow_bpd: float
    max_flow_bpd: float
    start: datetime.datetime  # first reading
    end: datetime.datetime  # last run
    first_run: datetime.datetime
    healthy_until: datetime.datetime
    faults: tuple = ()
    changes: tuple = ()
    missing_sensors: tuple = ()
    readings_until: datetime.datetime | None = None  # no_data: no reading at or after this
    onset: datetime.datetime | None = None  # high_motor_temp: None, found in the readings (limit passed)
    note: str = ""

    def well_spec(self, status):
        return WellSpec(
            well_id=self.pump.well_id,
            status=status,
            rated_flow_bpd=self.pump.rated_flow_bpd,
            min_operating_flow_bpd=self.min_flow_bpd,
            max_operating_flow_bpd=self.max_flow_bpd,
            motor_nameplate_current_a=self.pump.motor_nameplate_current_a,
            motor_temp_limit_c=self.pump.motor_temp_limit_c,
            vibration_limit_mm_s=self.pump.vibration_limit_mm_s,
        )

    def simulator(self):
        return WellSimulator(self.pump, seed=self.seed, faults=self.faults, changes=self.changes)

    def runs(self):
        """The engine's run times: whole multiples of RUN_INTERVAL in [first_run, end]."""
        step = int(RUN_INTERVAL.total_seconds())
        epoch = math.ceil(self.first_run.timestamp() / step) * step
        last = self.end.timestamp()
        while epoch <= last:
            yield epoch
            epoch += step


# --- Drawing wells and episodes --------------------------------------------------------------------


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


class _Well:
    """A drawn pump with its recommended range, and the simulator's own draws for it (its operating point)."""

    def __init__(self, rng, well_id, start, seed, stages=PUMP_STAGES, max_share=MAX_FLOW_SHARE):
        self.seed = seed
        rated = math.exp(rng.uniform(math.log(RATED_FLOW_BPD[0]), math.log(RATED_FLOW_BPD[1])))
        install = (start - datetime.timedelta(days=rng.uniform(60, 300))).date()  # no workover anniversary near
        draft = PumpSpec(
            well_id=well_id,
            rated_flow_bpd=round(rated),
            pump_stages=rng.randint(*stages),
            motor_nameplate_current_a=round(rng.uniform(*NAMEPLATE_CURRENT_A), 1),
            vibration_limit_mm_s=round(rng.uniform(*VIBRATION_LIMIT_MM_S), 1),
            install_date=install,
            timezone=rng.choice(TIMEZONES),
        )
        # A motor is rated for its well: its limit sits well above the bottom-hole temperature.
        bottomhole_c = WellSimulator(draft, seed=seed).bottomhole_temp_c
        limit = rng.uniform(max(MOTOR_TEMP_LIMIT_C[0], bottomhole_c + 40.0), MOTOR_TEMP_LIMIT_C[1])
        self.pump = dataclasses.replace(draft, motor_temp_limit_c=round(limit))
        self.min_share = rng.uniform(*MIN_FLOW_SHARE)
        self.max_share = rng.uniform(*max_share)
        self.simulator = WellSimulator(self.pump, seed=seed)
        # Share of rated flow it runs at around ``start``: its operating point less the depletion since its
        # install anniversary (under 0.5 % more over the weeks simulated).
        years = (start - self.pump.first_valid_time()) / datetime.timedelta(days=365.25)
        decline = 1 - self.simulator.decline_per_year * (years % 1.0)
        self.flow_share = self.simulator.operating_fraction * decline

    def in_range(self, flow_share):
        """Whether a flow (share of rated) sits inside the recommended range with the healthy margin."""
        return self.min_share * (1 + RANGE_MARGIN) <= flow_share <= self.max_share * (1 - RANGE_MARGIN)

    def scenario(self, **fields):
        rated = self.pump.rated_flow_bpd
        return Scenario(
            seed=self.seed,
            pump=self.pump,
            min_flow_bpd=round(rated * self.min_share),
            max_flow_bpd=round(rated * self.max_share),
            **fields,
        )


def _flow_ratio(well, change):
    """The share of its normal flow a well makes under a choke or setpoint change."""
    if change.kind == "choke_change":
        return well.simulator.choke_flow_ratio(change.ratio)
    return change.ratio


def _healthy_change(rng, well, kind, start, duration, on_top=1.0):
    """A choke or setpoint step small enough to keep the well inside its recommended range, also with
    another change multiplying its flow by ``on_top`` (and the daily cycle's 2 %)."""
    for _ in range(1000):
        if kind == "choke_change":
            ratio = rng.choice((rng.uniform(0.65, 0.85), rng.uniform(1.15, 1.5)))
        else:  # a few Hz of 50-60 Hz either way
            ratio = rng.choice((rng.uniform(0.92, 0.97), rng.uniform(1.03, 1.07)))
        change = OperatingChange(well.pump.well_id, kind, start, duration, ratio=round(ratio, 3))
        flow = well.flow_share * _flow_ratio(well, change)
        if all(well.in_range(flow * factor) for factor in (0.98, 1.02, 0.98 * on_top, 1.02 * on_top)):
            return change
    raise AssertionError(f"{well.pump.well_id}: no {kind} keeps it inside its recommended range")


def _opening_for(well, flow_share, low, high):
    """The choke opening (bisection over [low, high]) at which the pump makes ``flow_share`` of rated."""
    for _ in range(60):
        middle = math.sqrt(low * high)
        if well.flow_share * well.simulator.choke_flow_ratio(middle) < flow_share:
            low = middle
        else:
            high = middle
    return round(math.sqrt(low * high), 4)


def _fault_scenario(rng, seed, condition, index):
    """One episode of ``condition``: a week of healthy history, then the episode from its onset."""
    onset = _minute(FIRST_DAY + HISTORY + datetime.timedelta(days=rng.uniform(0, 28)))
    start = onset - HISTORY
    well_id = f"EVAL-{condition.upper().replace('_', '-')}-{index + 1}"
    target = TARGETS[condition]
    window_end = onset + 2 * target
    well = _Well(rng, well_id, start, seed)
    faults, changes, note = [], [], ""
    readings_until = None
    healthy_until = onset
    end = window_end
    scenario_onset = onset

    if condition in SIMPLE_EPISODES:
        faults.append(FaultEpisode(well_id, condition, onset, 2 * target + HOUR))
    elif condition == "scale_wear":
        days = rng.uniform(*SCALE_WEAR_DRIFT_DAYS)
        faults.append(FaultEpisode(well_id, condition, onset, datetime.timedelta(days=days)))
        note = f"drift builds over {days:.1f} days"
    elif condition == "high_motor_temp":
        # The cooling is lost at the fault's start; the condition begins when the winding passes its limit
        # (the motor heats with a 15-minute lag), found in the readings.
        faults.append(FaultEpisode(well_id, condition, onset, 3 * HOUR))
        scenario_onset = None
        end = onset + 90 * MINUTE + 2 * target
        note = "onset: first reading above the motor's limit"
    elif condition == "frequent_restarts":
        # Short trips (3-8 min), each restarted after it, with 12-40 min of running between them.
        lengths = [datetime.timedelta(minutes=rng.randint(3, 8)) for _ in range(RESTART_TRIPS)]
        gaps = [datetime.timedelta(minutes=rng.randint(12, 40)) for _ in range(RESTART_TRIPS - 1)]
        starts = {RESTARTS_ONSET_TRIP - 1: onset}
        for number in range(RESTARTS_ONSET_TRIP - 2, -1, -1):
            starts[number] = starts[number + 1] - gaps[number] - lengths[number]
        for number in range(RESTARTS_ONSET_TRIP, RESTART_TRIPS):
            starts[number] = starts[number - 1] + lengths[number - 1] + gaps[number - 1]
        trips = [FaultEpisode(well_id, "power_trip", starts[n], lengths[n]) for n in range(RESTART_TRIPS)]
        faults.extend(trips)
        healthy_until = trips[0].start
        end = max(window_end, trips[-1].end + RUN_INTERVAL)
        span = (trips[-1].end - trips[0].start) / HOUR
        note = f"{RESTART_TRIPS} trips over {span:.1f} h; onset: start of trip {RESTARTS_ONSET_TRIP}"
    elif condition == "out_of_range":
        kind_of_change = ("choke closed", "choke opened", "choke closed", "choke opened", "setpoint down")[index % 5]
        if kind_of_change == "choke opened":
            # A choke alone moves a pump along its curve only so far: above the range takes a short (low-head)
            # pump with a big choke drop, run a few Hz faster, and a range reaching to 120-124 % of rated.
            for attempt in range(1000):
                well = _Well(rng, well_id, start, seed + attempt, stages=(60, 100), max_share=(1.20, 1.24))
                speed = round(rng.uniform(1.06, 1.10), 3)
                target_share = well.max_share * rng.uniform(1.04, 1.08)
                if well.flow_share * speed * well.simulator.choke_flow_ratio(50.0) > target_share:
                    break
            else:
                raise AssertionError("no well found that a wide-open choke pushes above its range")
            ratio = _opening_for(well, target_share / speed, 1.0, 50.0)
            changes.append(OperatingChange(well_id, "setpoint_change", onset, 3 * HOUR, ratio=speed))
            changes.append(OperatingChange(well_id, "choke_change", onset, 3 * HOUR, ratio=ratio))
            kind_of_change = f"drive up x{speed:g} and choke opened"
        elif kind_of_change == "choke closed":
            target_share = well.min_share * rng.uniform(0.75, 0.9)
            ratio = _opening_for(well, target_share, 0.01, 1.0)
            changes.append(OperatingChange(well_id, "choke_change", onset, 3 * HOUR, ratio=ratio))
        else:
            target_share = well.min_share * rng.uniform(0.8, 0.9)
            ratio = round(target_share / well.flow_share, 3)
            changes.append(OperatingChange(well_id, "setpoint_change", onset, 3 * HOUR, ratio=ratio))
        note = (
            f"{kind_of_change} (x{ratio:g}): flow {target_share:.2f} of rated, "
            f"range {well.min_share:.2f}-{well.max_share:.2f}"
        )
    elif condition == "no_data":
        readings_until = onset
        note = "readings stop at onset"
    else:
        raise ValueError(f"no scenario for {condition!r}")

    # Two wells in five had a choke or setpoint change during their history (the baseline holds both).
    if index % 5 in (1, 3) and condition != "out_of_range":
        kind = rng.choice(("choke_change", "setpoint_change"))
        when = start + datetime.timedelta(days=rng.uniform(1.0, 5.5))
        changes.append(_healthy_change(rng, well, kind, _minute(when), end - when + HOUR))
        note = "; ".join(filter(None, [note, f"history: {kind} x{changes[-1].ratio:g} on day {(when - start).days}"]))

    return well.scenario(
        name=well_id,
        condition=condition,
        faults=tuple(faults),
        changes=tuple(changes),
        start=start,
        end=end,
        readings_until=readings_until,
        first_run=start + RUN_INTERVAL,
        healthy_until=healthy_until,
        onset=scenario_onset,
        note=note,
    )


def _healthy_scenario(rng, seed, index):
    """A healthy well over two weeks of normal variety; the engine runs over the second."""
    start = _minute(FIRST_DAY + datetime.timedelta(days=rng.uniform(0, 28)))
    evaluated = start + HISTORY
    end = evaluated + WEEK
    well_id = f"EVAL-HEALTHY-{index + 1:02d}"
    well = _Well(rng, well_id, start, seed)
    changes = []

    def at(day_low, day_high, origin=evaluated):
        return _minute(origin + datetime.timedelta(days=rng.uniform(day_low, day_high)))

    # The choke: a step on day 0.5-2.5 of the evaluated week, kept or set back after 1-3 days.
    choke_at = at(0.5, 2.5)
    choke_for = end - choke_at + HOUR if rng.random() < 0.5 else datetime.timedelta(days=rng.uniform(1, 3))
    choke = _healthy_change(rng, well, "choke_change", choke_at, choke_for)
    changes.append(choke)
    # The drive: a few Hz up or down on day 3-5, kept to the end (on top of the choke's step, if kept).
    setpoint_at = at(3, 5)
    changes.append(
        _healthy_change(
            rng, well, "setpoint_change", setpoint_at, end - setpoint_at + HOUR, on_top=_flow_ratio(well, choke)
        )
    )
    # Planned shut-ins: 14 wells in 20 are shut in for 1-12 h during the evaluated week.
    if index % 10 not in (3, 7):
        shut_at = at(0.2, 6.3)
        hours = rng.choice((rng.uniform(1, 2.5), rng.uniform(3, 12)))
        changes.append(OperatingChange(well_id, "shut_in", shut_at, datetime.timedelta(hours=hours)))
    # The baseline week saw changes too: a setpoint step (set back after 1-2 days) on half the wells, a
    # shut-in on a quarter.
    if index % 2 == 0:
        back_at = at(0.5, 4.0, origin=start)
        changes.append(
            _healthy_change(rng, well, "setpoint_change", back_at, datetime.timedelta(days=rng.uniform(1, 2)))
        )
    if index % 4 == 1:
        changes.append(OperatingChange(well_id, "shut_in", at(1, 6, origin=start), datetime.timedelta(hours=6)))
    missing = MISSING_SENSOR_SETS[index - 16] if index >= 16 else ()

    note = ", ".join(
        f"{c.kind}{'' if c.kind == 'shut_in' else f' x{c.ratio:g}'}"
        f" d{(c.start - start) / DAY:.1f}+{c.duration / HOUR:.0f}h"
        for c in sorted(changes, key=lambda c: c.start)
    )
    if missing:
        note += f"; no {'/'.join(missing)}"
    return well.scenario(
        name=well_id,
        condition=None,
        changes=tuple(changes),
        missing_sensors=missing,
        start=start,
        end=end,
        first_run=evaluated,
        healthy_until=end + RUN_INTERVAL,
        note=note,
    )


def fault_scenarios(seed=SEED):
    rng = random.Random(f"{seed}:faults")
    return [
        _fault_scenario(rng, seed, condition, index)
        for condition in CONDITIONS
        for index in range(EPISODES_PER_CONDITION)
    ]


def healthy_scenarios(seed=SEED):
    rng = random.Random(f"{seed}:healthy")
    return [_healthy_scenario(rng, seed, index) for index in range(HEALTHY_WELLS)]


def all_scenarios(seed=SEED):
    return fault_scenarios(seed) + healthy_scenarios(seed)


# --- Readings and hourly rows ----------------------------------------------------------------------


def simulate(scenario):
    """(epochs, readings): the well's readings every minute over [start, end] (or until ``readings_until``),
    rounded as the controller sends them, with the sensors it lacks as None."""
    simulator = scenario.simulator()
    missing = [METRIC_NAMES.index(name) for name in scenario.missing_sensors]
    step = int(READING_INTERVAL.total_seconds())
    epoch = int(scenario.start.timestamp())
    last = scenario.end.timestamp()
    if scenario.readings_until is not None:
        last = min(last, scenario.readings_until.timestamp() - 1)
    decimals = PAYLOAD_DECIMALS
    epochs, readings = [], []
    while epoch <= last:
        values = [round(v, d) for v, d in zip(simulator.metrics_at_epoch(epoch), decimals, strict=True)]
        for position in missing:
            values[position] = None
        epochs.append(epoch)
        readings.append(Reading(datetime.datetime.fromtimestamp(epoch, datetime.UTC), *values))
        epoch += step
    return epochs, readings


def _mean(values):
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def _max(values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _min(values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


def hourly_rows(readings):
    """The ``telemetry_hourly`` rows of ``readings`` (oldest first): one per UTC hour with readings, as the
    database's rollup (``analytics.rollups.definitions.HOURLY_AGGREGATES``) has them; None averages for a
    sensor that did not report."""
    by_hour = defaultdict(list)
    for reading in readings:
        by_hour[reading.time.replace(minute=0, second=0, microsecond=0)].append(reading)
    rows = []
    for bucket in sorted(by_hour):
        hour = by_hour[bucket]
        _, flow, pip, casing, tubing, intake, discharge, current, temp, vibration = zip(*hour, strict=True)
        rows.append(
            {
                "bucket": bucket,
                "avg_flow_rate": _mean(flow),
                "max_flow_rate": _max(flow),
                "min_flow_rate": _min(flow),
                "avg_pip": _mean(pip),
                "avg_casing_pressure": _mean(casing),
                "avg_tubing_pressure": _mean(tubing),
                "avg_motor_current": _mean(current),
                "avg_motor_temp": _mean(temp),
                "max_motor_temp": _max(temp),
                "avg_intake_pressure": _mean(intake),
                "avg_discharge_pressure": _mean(discharge),
                "avg_vibration": _mean(vibration),
                "reading_count": len(hour),
                "first_reading": hour[0].time,
                "last_reading": hour[-1].time,
            }
        )
    return rows


# --- Running the engine ----------------------------------------------------------------------------


@dataclasses.dataclass
class ScenarioRun:
    """What the engine said about one scenario: the runs with warning/critical findings, and the cost."""

    name: str
    onset: datetime.datetime | None  # as scored (high_motor_temp: found in the readings)
    alarming: list  # (run epoch, frozenset of diagnostic types at warning or critical), in time order
    seen: frozenset  # every (diagnostic_type, severity) the engine returned, for checking the vocabulary
    runs: int
    diagnose_s: float  # time spent inside diagnose
    simulate_s: float


def _limit_crossing(scenario, readings):
    """When the motor first read above its limit after the fault started (high_motor_temp's onset)."""
    fault_start = scenario.faults[0].start
    limit = scenario.pump.motor_temp_limit_c
    for reading in readings:
        if reading.time >= fault_start and reading.motor_temp is not None and reading.motor_temp > limit:
            return reading.time
    raise AssertionError(f"{scenario.name}: the motor never passed its limit of {limit} °C")


def run_scenario(scenario, diagnose):
    """Simulate ``scenario`` and call ``diagnose`` every RUN_INTERVAL over its runs; a ScenarioRun."""
    began = time.perf_counter()
    epochs, readings = simulate(scenario)
    hourly = hourly_rows(readings)
    buckets = [int(row["bucket"].timestamp()) for row in hourly]
    simulate_s = time.perf_counter() - began
    onset = scenario.onset
    if scenario.condition == "high_motor_temp":
        onset = _limit_crossing(scenario, readings)
    shut_ins = [(c.start.timestamp(), c.end.timestamp()) for c in scenario.changes if c.kind == "shut_in"]
    specs = {status: scenario.well_spec(status) for status in ("active", "shut_in")}
    recent_s = int(RECENT_WINDOW.total_seconds())
    baseline_s = int(BASELINE_WINDOW.total_seconds())
    alarming, seen, runs, diagnose_s = [], set(), 0, 0.0
    for epoch in scenario.runs():
        now = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        status = "shut_in" if any(start <= epoch < end for start, end in shut_ins) else "active"
        # Readings in [now - RECENT_WINDOW, now]; complete hours in [now - BASELINE_WINDOW, now).
        recent = readings[bisect.bisect_left(epochs, epoch - recent_s) : bisect.bisect_right(epochs, epoch)]
        baseline = hourly[bisect.bisect_left(buckets, epoch - baseline_s) : bisect.bisect_right(buckets, epoch - 3600)]
        called = time.perf_counter()
        try:
            findings = diagnose(specs[status], recent, baseline, now)
        except Exception as error:
            raise RuntimeError(
                f"diagnose failed on {scenario.name} ({status}) at {now:%Y-%m-%d %H:%M}Z:\n{traceback.format_exc()}"
            ) from error
        diagnose_s += time.perf_counter() - called
        runs += 1
        raised = set()
        for finding in findings:
            seen.add((finding.diagnostic_type, finding.severity))
            if finding.severity in ALARMING:
                raised.add(finding.diagnostic_type)
        if raised:
            alarming.append((epoch, frozenset(raised)))
    return ScenarioRun(scenario.name, onset, alarming, frozenset(seen), runs, diagnose_s, simulate_s)


# --- Scoring ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FalseAlarm:
    well: str
    diagnostic_type: str
    time: datetime.datetime
    context: str  # what the well was doing: the latest operating change, the baseline it had


def alarms(alarming, quiet=ALARM_QUIET):
    """(start epoch, type) of each alarm in ``alarming``: a type's reports more than ``quiet`` apart are
    separate alarms, closer ones the same alarm."""
    last_report = {}
    started = []
    quiet_s = quiet.total_seconds()
    for epoch, types in alarming:
        for diagnostic_type in sorted(types):
            previous = last_report.get(diagnostic_type)
            if previous is None or epoch - previous > quiet_s:
                started.append((epoch, diagnostic_type))
            last_report[diagnostic_type] = epoch
    return started


def _context(scenario, moment):
    """What the well was doing at ``moment``, for reading a false alarm."""
    parts = []
    for change in scenario.changes:
        size = "" if change.kind == "shut_in" else f" x{change.ratio:g}"
        if change.start <= moment < change.end:
            parts.append(f"{(moment - change.start) / MINUTE:.0f} min into {change.kind}{size}")
        elif change.end <= moment < change.end + 6 * HOUR:
            parts.append(f"{(moment - change.end) / MINUTE:.0f} min after {change.kind}{size} ended")
    baseline_h = (moment - scenario.start) / HOUR
    if baseline_h < BASELINE_WINDOW / HOUR:
        parts.append(f"{baseline_h:.0f} h of data")
    return "; ".join(parts) or "steady running"


@dataclasses.dataclass(frozen=True)
class Episode:
    """How one fault scenario was scored."""

    well: str
    condition: str
    delay: datetime.timedelta | None  # onset to the first run reporting it; None: missed
    also_raised: frozenset  # other types at warning/critical from the cause's start to the window's end
    note: str

    @property
    def in_target(self):
        return self.delay is not None and self.delay <= TARGETS[self.condition]


@dataclasses.dataclass
class Report:
    rows: list  # per condition: dict of the table's columns
    episodes: list  # Episode
    false_alarms: list  # FalseAlarm
    well_weeks: float  # healthy running evaluated, in well-weeks
    healthy_variety_weeks: float  # of which on the healthy wells with operating changes
    variety_false_alarms: int

    @property
    def false_alarms_per_well_week(self):
        return len(self.false_alarms) / self.well_weeks

    def failures(self):
        """What misses a target, one line each; empty when every target is met."""
        lines = [
            f"{row['condition']}: {row['in_target']}/{row['episodes']} episodes detected within "
            f"{_minutes(row['target'])}"
            for row in self.rows
            if row["in_target"] < row["episodes"]
        ]
        if self.false_alarms_per_well_week > FALSE_ALARMS_PER_WELL_WEEK_TARGET:
            lines.append(
                f"{self.false_alarms_per_well_week:.2f} false alarms per well-week "
                f"(target <= {FALSE_ALARMS_PER_WELL_WEEK_TARGET})"
            )
        return lines


def score(scenarios, results):
    """The Report of ``results`` (ScenarioRun per scenario, by name)."""
    episodes = defaultdict(list)
    false_alarms = []
    well_weeks = variety_weeks = 0.0
    variety_false = 0
    for scenario in scenarios:
        result = results[scenario.name]
        # Healthy running: [first run, healthy_until).
        counted_until = min(scenario.healthy_until.timestamp(), scenario.end.timestamp() + 1)
        span = counted_until - scenario.first_run.timestamp()
        well_weeks += span / WEEK.total_seconds()
        if scenario.condition is None:
            variety_weeks += span / WEEK.total_seconds()
        for epoch, diagnostic_type in alarms(result.alarming):
            if epoch < counted_until:
                moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
                false_alarms.append(FalseAlarm(scenario.name, diagnostic_type, moment, _context(scenario, moment)))
                variety_false += scenario.condition is None
        if scenario.condition is None:
            continue
        onset = result.onset.timestamp()
        target = TARGETS[scenario.condition]
        window_end = onset + 2 * target.total_seconds()
        detected = next(
            (epoch for epoch, types in result.alarming if onset <= epoch <= window_end and scenario.condition in types),
            None,
        )
        also = {
            diagnostic_type
            for epoch, types in result.alarming
            if scenario.healthy_until.timestamp() <= epoch <= window_end
            for diagnostic_type in types
            if diagnostic_type != scenario.condition
        }
        delay = None if detected is None else datetime.timedelta(seconds=detected - onset)
        episodes[scenario.condition].append(
            Episode(scenario.name, scenario.condition, delay, frozenset(also), scenario.note)
        )
    rows = []
    for condition in CONDITIONS:
        times = [episode.delay for episode in episodes[condition] if episode.delay is not None]
        also = Counter(t for episode in episodes[condition] for t in episode.also_raised)
        rows.append(
            {
                "condition": condition,
                "episodes": len(episodes[condition]),
                "detected": len(times),
                "missed": len(episodes[condition]) - len(times),
                "in_target": sum(episode.in_target for episode in episodes[condition]),
                "median": statistics.median(times) if times else None,
                "max": max(times) if times else None,
                "target": TARGETS[condition],
                "also_raised": also,
            }
        )
    every_episode = [episode for condition in CONDITIONS for episode in episodes[condition]]
    return Report(rows, every_episode, false_alarms, well_weeks, variety_weeks, variety_false)


def _minutes(delay):
    if delay is None:
        return "-"
    minutes = delay / MINUTE
    return f"{minutes / 60:.0f} h" if minutes >= 120 else f"{minutes:.0f} min"


def format_report(report, *, details=20):
    """The table the benchmark prints (and the README keeps)."""
    header = ("condition", "episodes", "detected", "missed", "median / max to detect", "target", "also raised")
    lines = []
    table = [header]
    for row in report.rows:
        also = ", ".join(f"{t} ×{n}" for t, n in sorted(row["also_raised"].items())) or "-"
        mark = "" if row["in_target"] == row["episodes"] else "  ✗"
        table.append(
            (
                row["condition"],
                str(row["episodes"]),
                str(row["detected"]),
                str(row["missed"]),
                f"{_minutes(row['median'])} / {_minutes(row['max'])}{mark}",
                _minutes(row["target"]),
                also,
            )
        )
    widths = [max(len(cells[i]) for cells in table) for i in range(len(header) - 1)]
    for cells in table:
        lines.append(
            " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)) + " | " + cells[-1]
        )
        if cells is header:
            lines.append("-+-".join("-" * width for width in widths) + "-+-" + "-" * len(header[-1]))
    late = [episode for episode in report.episodes if not episode.in_target]
    if late:
        lines.append("")
        lines.append("episodes off target:")
    for episode in late:
        outcome = "missed" if episode.delay is None else f"detected after {_minutes(episode.delay)}"
        also = f"; raised {', '.join(sorted(episode.also_raised))}" if episode.also_raised else ""
        note = f" ({episode.note})" if episode.note else ""
        lines.append(f"  {episode.well} {outcome}{also}{note}")

    by_type = Counter(alarm.diagnostic_type for alarm in report.false_alarms)
    fault_weeks = report.well_weeks - report.healthy_variety_weeks
    lines.append("")
    lines.append(
        f"false warning/critical alarms: {report.false_alarms_per_well_week:.3f} per well-week "
        f"(target <= {FALSE_ALARMS_PER_WELL_WEEK_TARGET}): {len(report.false_alarms)} over "
        f"{report.well_weeks:.1f} well-weeks, of which {report.variety_false_alarms} in "
        f"{report.healthy_variety_weeks:.0f} weeks of healthy wells with operating changes and "
        f"{len(report.false_alarms) - report.variety_false_alarms} in {fault_weeks:.1f} pre-onset weeks of the "
        "fault wells"
    )
    lines.append("false alarms by type: " + (", ".join(f"{t} {n}" for t, n in by_type.most_common()) or "none"))
    for alarm in report.false_alarms[:details]:
        lines.append(f"  {alarm.well} {alarm.diagnostic_type} at {alarm.time:%Y-%m-%d %H:%M}Z ({alarm.context})")
    if len(report.false_alarms) > details:
        lines.append(f"  … and {len(report.false_alarms) - details} more")
    return "\n".join(lines)


def _cost(scenario):
    return (scenario.end - scenario.first_run) / RUN_INTERVAL + (scenario.end - scenario.start) / HOUR


def run_all(scenarios, diagnose, processes=None):
    """{name: ScenarioRun} of every scenario, over ``processes`` forked workers (default: one per core).

    ``diagnose`` must be importable by name (a module's function): it is sent to the workers by reference.
    """
    processes = processes or os.cpu_count() or 1
    work = sorted(scenarios, key=_cost, reverse=True)  # the longest first, so no worker is left with one at the end
    job = functools.partial(run_scenario, diagnose=diagnose)
    if processes == 1:
        results = [job(scenario) for scenario in work]
    else:
        # Forked: the workers share what this process has imported (Django's settings, a patched rule set).
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = list(pool.imap_unordered(job, work, chunksize=1))
    return {result.name: result for result in results}
