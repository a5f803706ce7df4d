"""The ESP diagnostics rules: plain functions over one well's recent readings and hourly rollups.

No ORM and no clock: ``diagnose(spec, readings, hourly, now)`` is all a caller needs, so the rules are
tested and evaluated (``make diagnostics-eval``) without a database.

How a well is judged (A motor current, Q flow, PIP intake pressure, Pd discharge pressure, THP tubing
pressure, CP casing pressure, Tm motor temperature):

1. **Its own normal.** The *baseline* is the median of the well's running hours in the hourly rollup
   over the last week (before the recent window), with a robust spread (1.4826 × MAD). Slow
   conditions and every "↑/↓" below are judged against it, so a 300 bbl/d well and a 6,000 bbl/d well
   are judged alike. A well with fewer than ``MIN_BASELINE_HOURS`` running hours has no baseline
   yet: only the rules that need none (its nameplate, limits and recommended range) run, and
   ``anomaly`` findings are never more than info.
2. **Now** is the median of the last ``LEVEL_WINDOW`` of raw readings; **erratic** is the median
   step between consecutive readings over ``SHORT_WINDOW``, relative to the level (one step change —
   a choke or setpoint moved — does not make a signal erratic; slugging gas does). Only readings since
   the pump last started count: a restart after a trip or a planned shut-in is judged on its own.
3. **The rules**, most specific first; a flow-loss condition found suppresses the generic ones
   (``out_of_range``, ``anomaly``) for that run. Each threshold is a named constant below, and the
   README has the table.
"""

import datetime
import math
import statistics
from typing import NamedTuple

from analytics.diagnostics.findings import Finding

# Raw readings the rules look at, ending at the run's clock.
RECENT_WINDOW = datetime.timedelta(hours=2)
# Hourly rollup rows the rules learn the well's normal from, ending at the run's clock.
BASELINE_WINDOW = datetime.timedelta(days=7)

# --- Documented settings (README: "Diagnostics rules") ------------------------------------------------
LEVEL_WINDOW = datetime.timedelta(minutes=5)  # "now": the level a fast condition is judged on
SHORT_WINDOW = datetime.timedelta(minutes=10)  # how erratic a signal is, how fast it rises
SLOW_WINDOW = datetime.timedelta(minutes=30)  # sustained conditions (out of range)
MIN_LEVEL_READINGS = 3  # fewer running readings in the level window: only the data and trip checks run
MIN_SHORT_READINGS = 4  # fewer in the short window: no judgement of how erratic a signal is
MIN_BASELINE_HOURS = 12  # running hours needed before a well has a baseline

RUNNING_MIN_CURRENT_RATIO = 0.10  # A below this share of nameplate (or 5 A): the motor is stopped
RUNNING_MIN_CURRENT_A = 5.0
NO_DATA_AFTER = datetime.timedelta(minutes=10)  # no reading for this long (or 3 reporting intervals)
FROZEN_READINGS = 6  # this many identical consecutive readings: the controller repeats itself

FLOW_LOST_RATIO = 0.25  # Q below this share of normal: the pump moves (almost) nothing
NO_LOAD_CURRENT_RATIO = 0.75  # A below this share of normal with no flow: the motor is unloaded
DEADHEAD_THP_RISE = 1.5  # THP this many times normal (or Pd 1.08×) with no flow: a closed valve
DEADHEAD_PD_RISE = 1.08
STEADY_CURRENT_STEP = 0.016  # median step of A under 1.6 %: steady (broken shaft), above: erratic (gas)
ERRATIC_PIP_WOBBLE = 0.03  # median change of PIP's step above 3 % of its level: PIP erratic (gas)
GAS_CASING_RISE = 1.25  # CP this many times normal: gas venting up the annulus

PUMP_OFF_PIP_RATIO = 0.6  # PIP below this share of normal (and 6 σ below it): drawn down to the intake
PUMP_OFF_CRITICAL_PIP_RATIO = 0.2
ERRATIC_FLOW_STEP = 0.025  # median step of Q above 2.5 % of its level: erratic
ERRATIC_CURRENT_STEP = 0.018  # median step of A above 1.8 %: erratic
GAS_PIP_RATIO = 0.92  # erratic Q and A with PIP below this share of normal, or CP risen: gas
REDUCED_FLOW_RATIO = 0.85  # Q below this share of normal: "Q ↓"
LEAK_THP_RATIO = 0.85  # THP below this share of normal with Q ↓ and A about normal: tubing leak
LEAK_CURRENT_BAND = (0.95, 1.08)  # "A about normal": from −5 % to +8 %
PLUGGED_CURRENT_RATIO = 0.97  # A below this share of normal with Q ↓ and PIP up: plugged intake
PLUGGED_INTAKE_RATIO_DROP = 0.9  # intake/PIP ratio below 0.9× its normal: pressure lost across the screen
PLUGGED_PD_RATIO = 0.97  # without an intake gauge: Pd held up (a slowed pump would lose head)
PLUGGED_TEMP_RISE_C = 2.0

SCALE_CURRENT_RISE = 1.03  # over the recent window: A ≥ 1.03× its level before the last day, Q ≤ 0.97×
SCALE_FLOW_DROP = 0.97
SCALE_SIGMAS = 3.0  # and each beyond 3 σ of its hour-to-hour noise
SCALE_BEFORE = datetime.timedelta(days=1)  # the drift is judged against the hours before this

OVERLOAD_RATIO = 1.10  # A above 110 % of nameplate (the level, 5 min): overload; 120 %: critical
OVERLOAD_CRITICAL_RATIO = 1.20
TEMP_WARNING_MARGIN_C = 10.0  # Tm within 10 °C of the well's limit: warning; at the limit: critical
TEMP_PROJECTION = datetime.timedelta(minutes=10)  # warning too when Tm's rise would reach the limit within this
VIBRATION_CRITICAL_RATIO = 1.25  # vibration at the well's limit: warning (zone C); 1.25×: critical (D)
RESTARTS_WARNING = 2  # starts within the recent window: frequent restarts; 3: critical
RESTARTS_CRITICAL = 3
ANOMALY_SIGMAS = 8.0  # a metric this many robust σ (and 10 %) from normal with no condition found

INFO, WARNING, CRITICAL = "info", "warning", "critical"

ACTIONS = {
    "power_trip": "Check the drive's trip log and supply; restart only after the cause is known.",
    "frequent_restarts": "Stop restarting: find the trip cause (underload, overload, supply) first.",
    "broken_shaft": "Confirm with a rotation check at the drive; plan a pull, the pump cannot be fixed in place.",
    "deadhead": "Open the closed valve or choke downstream of the wellhead now; stop the pump if it can't be opened.",
    "gas_lock": "Stop and restart after a settling pause; consider a gas separator or a lower setting.",
    "gas_interference": "Lower the pump speed or set the pump deeper; check the gas separator and casing venting.",
    "pump_off": "Lower the pump speed or enable pump-off control; the well does not deliver what the pump takes.",
    "plugged_intake": "Treat or flush the intake (acid or solvent); check for sand and scale.",
    "tubing_leak": "Pressure-test the tubing; plan a workover if the leak is confirmed.",
    "scale_wear": "Plan a scale treatment; if the drift continues, the stages are wearing and a pull is due.",
    "overload": "Check fluid density, emulsion and supply voltage; lower the speed to protect the motor.",
    "high_motor_temp": "Reduce load or speed; check the cooling flow past the motor.",
    "high_vibration": "Reduce speed and watch the trend; plan a pull if it keeps rising.",
    "out_of_range": "Bring the flow back into the pump's recommended range (speed or choke).",
    "stale_sensor": "Check the controller and gauge: the values no longer change.",
    "no_data": "Check the controller's power and communication link.",
    "anomaly": "Look at the trend: the well is far from its own normal without a known signature.",
}


class WellSpec(NamedTuple):
    """The figures of one well the rules compare telemetry against (``wells.models.Well``)."""

    well_id: str
    status: str
    rated_flow_bpd: float
    min_operating_flow_bpd: float
    max_operating_flow_bpd: float
    motor_nameplate_current_a: float
    motor_temp_limit_c: float
    vibration_limit_mm_s: float


class Reading(NamedTuple):
    """One raw reading, in ``telemetry_reading`` column order; optional sensors may be None."""

    time: datetime.datetime
    flow_rate: float
    pip: float
    casing_pressure: float | None
    tubing_pressure: float | None
    intake_pressure: float | None
    discharge_pressure: float | None
    motor_current: float
    motor_temp: float | None
    vibration: float | None


# The metrics a baseline keeps: reading field -> hourly rollup column.
BASELINE_COLUMNS = {
    "flow_rate": "avg_flow_rate",
    "pip": "avg_pip",
    "casing_pressure": "avg_casing_pressure",
    "tubing_pressure": "avg_tubing_pressure",
    "intake_pressure": "avg_intake_pressure",
    "discharge_pressure": "avg_discharge_pressure",
    "motor_current": "avg_motor_current",
    "motor_temp": "avg_motor_temp",
    "vibration": "avg_vibration",
}


class Normal(NamedTuple):
    """A metric's normal: the median of the running hours and a robust spread (never below 1 % of it)."""

    median: float
    sigma: float


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _running_hour(spec, row):
    """True for an hourly row in which the pump never stopped (its minimum flow is above zero) and drew a
    running current."""
    running_current = max(RUNNING_MIN_CURRENT_A, RUNNING_MIN_CURRENT_RATIO * spec.motor_nameplate_current_a)
    return (row["min_flow_rate"] or 0.0) > 0.0 and (row["avg_motor_current"] or 0.0) >= 2 * running_current


def baseline_of(hourly, spec, until):
    """{metric: Normal} from the running hours before ``until``, or None with fewer than MIN_BASELINE_HOURS.

    A running hour never stopped (its minimum flow is above zero) and drew a running current.
    """
    rows = [row for row in hourly if row["bucket"] < until and _running_hour(spec, row)]
    if len(rows) < MIN_BASELINE_HOURS:
        return None
    normal = {}
    for metric, column in BASELINE_COLUMNS.items():
        values = [row[column] for row in rows if row[column] is not None]
        if len(values) < MIN_BASELINE_HOURS:
            continue
        middle = statistics.median(values)
        spread = 1.4826 * statistics.median(abs(v - middle) for v in values)
        normal[metric] = Normal(middle, max(spread, 0.01 * abs(middle), 1e-6))
    normal["_hours"] = len(rows)
    return normal


class _Now:
    """The recent readings, summarised: medians, jitter (median relative step) and the raw lists."""

    def __init__(self, readings):
        self.readings = readings
        self.count = len(readings)

    def median(self, metric):
        return _median(getattr(r, metric) for r in self.readings)

    def values(self, metric):
        return [getattr(r, metric) for r in self.readings if getattr(r, metric) is not None]

    def jitter(self, metric):
        """Median of |step| between consecutive readings relative to the median level; None if unknown."""
        values = self.values(metric)
        level = _median(values)
        if len(values) < 3 or not level:
            return None
        return statistics.median(abs(b - a) for a, b in zip(values, values[1:], strict=False)) / abs(level)

    def wobble(self, metric):
        """Like ``jitter`` but on changes of the step, so a steady rise or fall (a level recovering) is not
        counted as erratic; None if unknown."""
        values = self.values(metric)
        level = _median(values)
        if len(values) < 4 or not level:
            return None
        steps = [b - a for a, b in zip(values, values[1:], strict=False)]
        return statistics.median(abs(b - a) for a, b in zip(steps, steps[1:], strict=False)) / abs(level)

    def slope(self, metric):
        """Median change per minute of ``metric`` over the window; None if unknown."""
        pairs = [(r.time, getattr(r, metric)) for r in self.readings if getattr(r, metric) is not None]
        rates = [
            (b - a) / ((tb - ta).total_seconds() / 60)
            for (ta, a), (tb, b) in zip(pairs, pairs[1:], strict=False)
            if tb > ta
        ]
        return _median(rates)


def _within(readings, start):
    return [r for r in readings if r.time > start]


def _rounded(value, digits=1):
    return None if value is None else round(value, digits)


class _Judge:
    """One run's view of one well: what is normal, what is now, and helpers that build findings."""

    def __init__(self, spec, readings, hourly, now):
        self.spec = spec
        self.now = now
        self.readings = readings
        self.hourly = hourly
        self.running_current = max(RUNNING_MIN_CURRENT_A, RUNNING_MIN_CURRENT_RATIO * spec.motor_nameplate_current_a)
        stops = [i for i, reading in enumerate(readings) if not _is_running(self, reading)]
        self.since_start = readings[stops[-1] + 1 :] if stops else readings
        self.level = _Now(_within(self.since_start, now - LEVEL_WINDOW))
        self.short = _Now(_within(self.since_start, now - SHORT_WINDOW))
        self.slow = _Now(_within(self.since_start, now - SLOW_WINDOW))
        self.normal = baseline_of(hourly, spec, now - RECENT_WINDOW)

    def usual(self, metric):
        """The well's normal value of ``metric``, or None (no baseline, or the sensor does not report)."""
        if self.normal is None or metric not in self.normal:
            return None
        return self.normal[metric].median

    def ratio(self, metric, window=None):
        """Now over normal for ``metric``; None when either is unknown or normal is zero."""
        now, usual = (window or self.level).median(metric), self.usual(metric)
        if now is None or not usual:
            return None
        return now / usual

    def sigmas(self, metric, window=None):
        """How many robust σ ``metric`` is from normal now (signed); None when unknown."""
        now = (window or self.level).median(metric)
        if now is None or self.normal is None or metric not in self.normal:
            return None
        return (now - self.normal[metric].median) / self.normal[metric].sigma

    def finding(self, kind, severity, confidence, evidence, window=SHORT_WINDOW):
        return Finding(
            diagnostic_type=kind,
            severity=severity,
            confidence=round(min(1.0, max(0.0, confidence)), 2),
            evidence={key: value for key, value in evidence.items() if value is not None},
            recommended_action=ACTIONS[kind],
            window_start=self.now - window,
            window_end=self.now,
            detected_at=self.now,
        )

    def compared(self, metric, unit, window=None):
        """Evidence for one metric: its value now and its normal, e.g. {"current_a": 16.2, "normal_current_a": 48.1}."""
        name = {
            "flow_rate": "flow",
            "pip": "pip",
            "casing_pressure": "casing_pressure",
            "tubing_pressure": "tubing_pressure",
            "intake_pressure": "intake_pressure",
            "discharge_pressure": "discharge_pressure",
            "motor_current": "current",
            "motor_temp": "motor_temp",
            "vibration": "vibration",
        }[metric]
        return {
            f"{name}_{unit}": _rounded((window or self.level).median(metric)),
            f"normal_{name}_{unit}": _rounded(self.usual(metric)),
        }


def _is_running(judge, reading):
    return reading.motor_current >= judge.running_current


# --- Data checks ---------------------------------------------------------------------------------------


def _no_data(judge):
    readings = judge.readings
    if not readings:
        return judge.finding("no_data", WARNING, 0.9, {"minutes_without_data": None}, window=RECENT_WINDOW)
    intervals = [(b.time - a.time).total_seconds() for a, b in zip(readings, readings[1:], strict=False)]
    usual_interval = datetime.timedelta(seconds=_median(intervals[-30:]) or 60)
    silent = judge.now - readings[-1].time
    if silent < max(NO_DATA_AFTER, 3 * usual_interval):
        return None
    return judge.finding(
        "no_data",
        WARNING,
        0.9,
        {"minutes_without_data": round(silent.total_seconds() / 60, 1), "last_reading": readings[-1].time.isoformat()},
        window=silent,
    )


def _stale_sensor(judge):
    """The controller repeats its last reading: the last FROZEN_READINGS readings are identical to the digit."""
    tail = judge.readings[-FROZEN_READINGS:]
    if len(tail) < FROZEN_READINGS:
        return None
    values = {r[1:] for r in tail}
    if len(values) != 1:
        return None
    return judge.finding(
        "stale_sensor",
        WARNING,
        0.9,
        {"identical_readings": len(tail), "since": tail[0].time.isoformat(), "frozen_current_a": tail[0].motor_current},
    )


# --- Stopped pump ------------------------------------------------------------------------------------


def _power_trip(judge):
    tail = judge.readings[-3:]
    if len(tail) < 2 or any(_is_running(judge, r) for r in tail):
        return None
    if not any(_is_running(judge, r) for r in judge.readings):
        since = judge.readings[0].time
    else:
        last_running = max(i for i, r in enumerate(judge.readings) if _is_running(judge, r))
        since = judge.readings[last_running + 1].time
    return judge.finding(
        "power_trip",
        CRITICAL,
        0.95,
        {
            "current_a": _rounded(tail[-1].motor_current, 2),
            "flow_bpd": _rounded(tail[-1].flow_rate),
            "stopped_since": since.isoformat(),
            **judge.compared("motor_current", "a"),
        },
    )


def _frequent_restarts(judge):
    running = [_is_running(judge, r) for r in judge.readings]
    starts = sum(1 for before, after in zip(running, running[1:], strict=False) if after and not before)
    if starts < RESTARTS_WARNING:
        return None
    return judge.finding(
        "frequent_restarts",
        CRITICAL if starts >= RESTARTS_CRITICAL else WARNING,
        min(1.0, 0.6 + 0.1 * starts),
        {"starts": starts, "window_hours": RECENT_WINDOW.total_seconds() / 3600},
        window=RECENT_WINDOW,
    )


# --- The pump turns but moves (almost) nothing --------------------------------------------------------


def _flow_lost(judge):
    """Deadhead, broken shaft or gas lock: no flow while the motor runs. At most one of them."""
    usual_flow = judge.usual("flow_rate") or judge.spec.rated_flow_bpd
    flow = judge.level.median("flow_rate")
    if flow is None or flow >= FLOW_LOST_RATIO * usual_flow:
        return None
    evidence = {
        **judge.compared("flow_rate", "bpd"),
        **judge.compared("motor_current", "a"),
        **judge.compared("pip", "psi"),
        **judge.compared("discharge_pressure", "psi"),
        **judge.compared("tubing_pressure", "psi"),
    }
    thp, pd = judge.ratio("tubing_pressure"), judge.ratio("discharge_pressure")
    if (thp is not None and thp >= DEADHEAD_THP_RISE) or (pd is not None and pd >= DEADHEAD_PD_RISE):
        return judge.finding("deadhead", CRITICAL, 0.9 if thp is not None and pd is not None else 0.75, evidence)

    current = judge.ratio("motor_current")
    if current is None:  # no baseline: judge the current against the nameplate (running ≈ 90 % of it)
        current = judge.level.median("motor_current") / (0.9 * judge.spec.motor_nameplate_current_a)
    pip = judge.ratio("pip")
    if pip is not None and pip <= PUMP_OFF_PIP_RATIO:  # the annulus is drawn down: the well, not the pump
        return judge.finding("pump_off", CRITICAL, 0.8, evidence)

    current_step = judge.short.jitter("motor_current") or 0.0
    casing = judge.ratio("casing_pressure")
    gas_signs = [
        current_step >= STEADY_CURRENT_STEP,
        casing is not None and casing >= GAS_CASING_RISE,
        (judge.short.wobble("pip") or 0.0) >= ERRATIC_PIP_WOBBLE,
    ]
    evidence["current_step_pct"] = round(100 * current_step, 2)
    if current < NO_LOAD_CURRENT_RATIO and not any(gas_signs):
        return judge.finding("broken_shaft", CRITICAL, 0.85, evidence)
    return judge.finding("gas_lock", CRITICAL, 0.6 + 0.13 * sum(gas_signs), evidence)


# --- The pump moves less than it should -------------------------------------------------------------


def _reduced_flow(judge):
    """Pump-off, gas interference, plugged intake or tubing leak; needs a baseline. At most one of them."""
    if judge.normal is None:
        return None
    flow, current, pip = judge.ratio("flow_rate"), judge.ratio("motor_current"), judge.ratio("pip")
    if flow is None or current is None or pip is None:
        return None
    pip_sigmas = judge.sigmas("pip")
    evidence = {
        **judge.compared("flow_rate", "bpd"),
        **judge.compared("motor_current", "a"),
        **judge.compared("pip", "psi"),
    }

    if pip <= PUMP_OFF_PIP_RATIO and pip_sigmas <= -6 and (flow < REDUCED_FLOW_RATIO or current < 0.95):
        severity = CRITICAL if pip <= PUMP_OFF_CRITICAL_PIP_RATIO else WARNING
        return judge.finding("pump_off", severity, 0.7 + 0.3 * (1 - pip), evidence)

    if judge.short.count >= MIN_SHORT_READINGS:
        flow_step, current_step = judge.short.jitter("flow_rate") or 0.0, judge.short.jitter("motor_current") or 0.0
        casing = judge.ratio("casing_pressure")
        erratic = flow_step >= ERRATIC_FLOW_STEP and current_step >= ERRATIC_CURRENT_STEP
        if erratic and (pip <= GAS_PIP_RATIO or (casing is not None and casing >= GAS_CASING_RISE)):
            evidence |= {"flow_step_pct": round(100 * flow_step, 1), "current_step_pct": round(100 * current_step, 1)}
            evidence |= judge.compared("casing_pressure", "psi")
            return judge.finding("gas_interference", WARNING, 0.75, evidence)

    if flow >= REDUCED_FLOW_RATIO or pip_sigmas < -2:
        return None
    # Q down with PIP not falling: the pump is starved at its screen (plugged intake) or its output
    # recirculates (tubing leak). A pressure lost across the screen, where a gauge sees it, decides.
    screen_loss = None
    intake_now, intake_usual = judge.level.median("intake_pressure"), judge.usual("intake_pressure")
    if intake_now is not None and intake_usual:
        screen_loss = (intake_now / judge.level.median("pip")) / (intake_usual / judge.usual("pip"))
        evidence["intake_to_pip_vs_normal"] = round(screen_loss, 3)
    if screen_loss is not None and screen_loss <= PLUGGED_INTAKE_RATIO_DROP and current <= PLUGGED_CURRENT_RATIO:
        evidence |= judge.compared("intake_pressure", "psi") | judge.compared("motor_temp", "c")
        return judge.finding("plugged_intake", WARNING, 0.8, evidence)

    thp = judge.ratio("tubing_pressure")
    low, high = LEAK_CURRENT_BAND
    if thp is not None and thp <= LEAK_THP_RATIO and low <= current <= high:
        evidence |= judge.compared("tubing_pressure", "psi")
        return judge.finding("tubing_leak", WARNING, 0.75, evidence)

    if screen_loss is None and current <= PLUGGED_CURRENT_RATIO and pip_sigmas >= 2:
        # Without an intake gauge: a starved pump keeps its head (Pd held up) and its motor warms, where a
        # pump slowed down by its drive would lose head and cool.
        pd = judge.ratio("discharge_pressure")
        temp_now, temp_usual = judge.level.median("motor_temp"), judge.usual("motor_temp")
        temp_rise = temp_now - temp_usual if temp_now is not None and temp_usual is not None else 0.0
        if (pd is None or pd >= PLUGGED_PD_RATIO) and temp_rise >= PLUGGED_TEMP_RISE_C:
            evidence |= judge.compared("discharge_pressure", "psi") | judge.compared("motor_temp", "c")
            return judge.finding("plugged_intake", WARNING, 0.65, evidence)
    return None


def _hour_to_hour_noise(values):
    """A robust σ of the hour-to-hour change of ``values``: immune to the level shifts of operating changes."""
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    if len(steps) < MIN_BASELINE_HOURS:
        return None
    middle = statistics.median(steps)
    return 1.4826 * statistics.median(abs(step - middle) for step in steps) / math.sqrt(2)


def _scale_wear(judge):
    """Days of drift: A up while Q down against the running hours before the last day, both beyond noise.

    Choke and speed changes move A and Q the same way; only a pump losing head to scale or wear (or a
    growing load) moves them apart.
    """
    window = _Now(judge.since_start)
    if window.count < 60:
        return None
    before = judge.now - SCALE_BEFORE
    rows = [row for row in judge.hourly if row["bucket"] < before and _running_hour(judge.spec, row)]
    if len(rows) < MIN_BASELINE_HOURS:
        return None
    evidence = {}
    for metric, column, unit, wanted in (
        ("flow_rate", "avg_flow_rate", "bpd", lambda change: change <= SCALE_FLOW_DROP),
        ("motor_current", "avg_motor_current", "a", lambda change: change >= SCALE_CURRENT_RISE),
    ):
        history = [row[column] for row in rows if row[column] is not None]
        level, now = statistics.median(history), window.median(metric)
        noise = _hour_to_hour_noise(history)
        if not level or now is None or noise is None:
            return None
        if not wanted(now / level) or abs(now - level) < SCALE_SIGMAS * noise:
            return None
        name = "flow" if metric == "flow_rate" else "current"
        evidence |= {f"{name}_{unit}": round(now, 1), f"{name}_{unit}_before": round(level, 1)}
        evidence[f"{name}_change_pct"] = round(100 * (now / level - 1), 1)
    evidence |= judge.compared("discharge_pressure", "psi", window) | judge.compared("vibration", "mm_s", window)
    return judge.finding("scale_wear", WARNING, 0.7, evidence, window=RECENT_WINDOW)


# --- Limits of the well's specification -----------------------------------------------------------------


def _overload(judge):
    current = judge.level.median("motor_current")
    nameplate = judge.spec.motor_nameplate_current_a
    if current is None or current <= OVERLOAD_RATIO * nameplate:
        return None
    severity = CRITICAL if current >= OVERLOAD_CRITICAL_RATIO * nameplate else WARNING
    evidence = {"current_a": _rounded(current, 2), "nameplate_a": nameplate}
    evidence["share_of_nameplate_pct"] = round(100 * current / nameplate, 1)
    return judge.finding("overload", severity, 0.9, evidence | judge.compared("motor_temp", "c"))


def _high_motor_temp(judge):
    """Tm near or over the limit, or rising fast enough to reach it within TEMP_PROJECTION."""
    temp, limit = judge.level.median("motor_temp"), judge.spec.motor_temp_limit_c
    if temp is None:
        return None
    latest = judge.short.values("motor_temp")[-1]
    rise_per_minute = judge.short.slope("motor_temp") or 0.0
    projected = latest + max(0.0, rise_per_minute) * TEMP_PROJECTION.total_seconds() / 60
    if temp < limit - TEMP_WARNING_MARGIN_C and projected < limit:
        return None
    severity = CRITICAL if temp >= limit else WARNING
    evidence = {
        "motor_temp_c": round(temp, 1),
        "limit_c": limit,
        "rise_c_per_min": round(rise_per_minute, 2),
        f"in_{int(TEMP_PROJECTION.total_seconds() // 60)}_min_c": round(projected, 1),
    }
    return judge.finding("high_motor_temp", severity, 0.9, evidence)


def _high_vibration(judge):
    vibration, limit = judge.level.median("vibration"), judge.spec.vibration_limit_mm_s
    if vibration is None or vibration < limit:
        return None
    severity = CRITICAL if vibration >= VIBRATION_CRITICAL_RATIO * limit else WARNING
    evidence = {"vibration_mm_s": round(vibration, 2), "limit_mm_s": limit} | judge.compared("vibration", "mm_s")
    return judge.finding("high_vibration", severity, 0.85, evidence)


def _out_of_range(judge):
    """Q outside the pump's recommended range over the whole slow window (each 10-minute median)."""
    readings = judge.slow.readings
    if len(readings) < 3 * MIN_SHORT_READINGS or readings[0].time > judge.now - SLOW_WINDOW + SHORT_WINDOW:
        return None
    thirds = [readings[i::3] for i in range(3)]
    flows = [_median(r.flow_rate for r in part) for part in thirds]
    low, high = judge.spec.min_operating_flow_bpd, judge.spec.max_operating_flow_bpd
    if all(flow < low for flow in flows) or all(flow > high for flow in flows):
        flow = judge.slow.median("flow_rate")
        evidence = {"flow_bpd": round(flow, 1), "min_flow_bpd": low, "max_flow_bpd": high}
        return judge.finding("out_of_range", WARNING, 0.85, evidence, window=SLOW_WINDOW)
    return None


def _anomaly(judge):
    """A metric far from the well's own normal with no known signature: information, never a page.

    Operating changes (a new choke or speed) move a well far from last week's normal without anything
    being wrong; paging on them would flood the operators, so an anomaly stays info whatever the
    history.
    """
    if judge.normal is None:
        return None
    far = {}
    for metric in BASELINE_COLUMNS:
        sigmas, ratio = judge.sigmas(metric), judge.ratio(metric)
        if sigmas is not None and ratio is not None and abs(sigmas) >= ANOMALY_SIGMAS and abs(ratio - 1) >= 0.1:
            far[metric] = round(sigmas, 1)
    if not far:
        return None
    evidence = {"sigmas_from_normal": far, "baseline_hours": judge.normal["_hours"]}
    return judge.finding("anomaly", INFO, 0.5, evidence)


def diagnose(spec, readings, hourly, now):
    """Every condition seen on one well: a list of ``findings.Finding``.

    ``readings``: the well's raw readings in ``[now - RECENT_WINDOW, now]``, oldest first.
    ``hourly``: its ``telemetry_hourly`` rows in ``[now - BASELINE_WINDOW, now)``, oldest first, each a
    dict with ``bucket`` and the columns of ``analytics.rollups.definitions.HOURLY_COLUMNS``.
    A well that is not active (shut-in, maintenance, decommissioned) gets no findings.
    """
    if spec.status != "active":
        return []
    judge = _Judge(spec, readings, hourly, now)
    if (missing := _no_data(judge)) is not None:
        return [missing]
    findings = [f for f in (_stale_sensor(judge), _frequent_restarts(judge)) if f is not None]
    if any(f.diagnostic_type == "stale_sensor" for f in findings):
        return findings  # frozen values say nothing about the pump
    if (tripped := _power_trip(judge)) is not None:
        return [*findings, tripped]
    if judge.level.count < MIN_LEVEL_READINGS:
        return findings  # (re)started too recently to judge

    flow_condition = _flow_lost(judge) or _reduced_flow(judge)
    limits = [_overload(judge), _high_motor_temp(judge), _high_vibration(judge), _scale_wear(judge)]
    findings += [f for f in (flow_condition, *limits) if f is not None]
    if flow_condition is None and (out_of_range := _out_of_range(judge)) is not None:
        findings.append(out_of_range)
    if not findings and (unexplained := _anomaly(judge)) is not None:
        findings.append(unexplained)
    return findings
