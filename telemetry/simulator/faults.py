"""The fault catalogue and the operating changes: what each does to a well's operating conditions.

Fault episodes (``FaultEpisode``, kinds in ``FAULTS``, the names of ``analytics.models.DiagnosticType``)
change the operating conditions the way the physics does; the docstring of each ``_fault_*`` function
says how. Gradual faults build up over the first quarter of the episode (at most 10 minutes);
``scale_wear`` builds up over the whole episode.

Operating changes (``OperatingChange``, kinds in ``OPERATING_CHANGES``) are what a field does to a healthy
well on purpose: a choke opened or closed a step, the drive's frequency set up or down, a planned shut-in.
They move the signals as much as some faults do, and are not faults; the docstring of each ``_change_*``
function says how. They act as a step at the start and are undone at the end (a shut-in restarts the pump).

Each effect sets attributes of the ``Conditions`` of one reading; ``telemetry.simulator.model`` turns
those into the nine metrics. Plain code over data: no ORM, no network.
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

# pip the pump-off episode draws the annulus down to, psi: fluid level at the intake.
PUMPED_OFF_PIP_PSI = 25.0


class Fault(NamedTuple):
    """One kind of fault: what it looks like in the signals, and its effect on a reading's conditions."""

    signature: str
    # (conditions, the well's WellSimulator, seconds since the episode started, its length in seconds)
    effect: Callable


class Change(NamedTuple):
    """One kind of operating change: what it does to the well, and its effect on a reading's conditions."""

    summary: str
    effect: Callable  # (conditions, the well's WellSimulator, the OperatingChange)


class Conditions:
    """What drives one reading: the healthy operating point, changed by any active operating changes, then faults.

    The class attributes are the healthy values; a change or fault sets its own on an instance. Readings with
    neither active share one instance (``HEALTHY``), which matters at millions of readings.
    """

    flow_scale = 1.0  # multiplier on the pump's healthy flow
    speed = 1.0  # drive frequency as a share of the normal one (affinity laws: flow ~ f, head ~ f^2, power ~ f^3)
    choke_factor = 1.0  # multiplier on the choke's pressure drop at a given flow (1 / opening^2)
    powered = True
    shaft_broken = False
    valve_closed = False
    gas = 0.0  # free-gas share at the intake: less head, less load, poor motor cooling
    leak = 0.0  # share of the pumped flow that recirculates through a tubing hole
    head_factor = 1.0  # share of the catalogue head the stages still make
    load_factor = 1.0  # multiplier on motor current (heavy fluid, friction, low voltage)
    pip_factor = 1.0
    pip_override = None  # psi the annulus is drawn down to whatever the flow (pump-off)
    intake_restriction = 0.0  # share of pip lost across the intake screen
    discharge_factor = 1.0
    tubing_factor = 1.0
    casing_rise = 0.0  # share added to casing pressure by gas venting up the annulus
    extra_heat_c = 0.0
    vibration_extra = 0.0
    noise = 1.0  # multiplier on measurement noise
    frozen = False


HEALTHY = Conditions()


@dataclass(frozen=True)
class FaultEpisode:
    """One fault on one well over [start, start + duration)."""

    well_id: str
    kind: str
    start: datetime.datetime
    duration: datetime.timedelta

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.start.utcoffset() is None:
            raise ValueError("a fault's start must carry a time zone")
        if self.duration <= datetime.timedelta(0):
            raise ValueError("a fault's duration must be positive")

    @property
    def end(self):
        return self.start + self.duration

    def __str__(self):
        return f"{self.well_id} {self.kind} {self.start:%Y-%m-%d %H:%M:%S}Z for {format_duration(self.duration)}"


@dataclass(frozen=True)
class OperatingChange:
    """One deliberate change to how a healthy well is run, over [start, start + duration): not a fault.

    ``ratio`` is its size: for ``choke_change`` the choke's flow area as a share of its normal one (above 1
    opened, below 1 closed), for ``setpoint_change`` the drive's frequency as a share of its normal one;
    ``shut_in`` has none. Changes are relative to the well's normal running, so two changes of one kind
    on one well must not overlap.
    """

    well_id: str
    kind: str
    start: datetime.datetime
    duration: datetime.timedelta
    ratio: float = 1.0

    def __post_init__(self):
        if self.kind not in OPERATING_CHANGES:
            raise ValueError(f"unknown operating change {self.kind!r}; known: {', '.join(OPERATING_CHANGES)}")
        if self.start.utcoffset() is None:
            raise ValueError("a change's start must carry a time zone")
        if self.duration <= datetime.timedelta(0):
            raise ValueError("a change's duration must be positive")
        if not self.ratio > 0:
            raise ValueError("a change's ratio must be positive")

    @property
    def end(self):
        return self.start + self.duration

    def __str__(self):
        size = "" if self.kind == "shut_in" else f" x{self.ratio:g}"
        duration = format_duration(self.duration)
        return f"{self.well_id} {self.kind}{size} {self.start:%Y-%m-%d %H:%M:%S}Z for {duration}"


# --- Parsing fault specifications ------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    """``90s``, ``30m``, ``2h``, ``1d12h`` -> timedelta; ValueError otherwise."""
    text = text.strip()
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 2h or 1d12h")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    return datetime.timedelta(seconds=seconds)


def format_duration(duration):
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_start(text, now):
    """``now``, ``+10m`` / ``-2d`` (relative to ``now``) or an ISO 8601 time with a zone -> aware datetime."""
    text = text.strip()
    if text == "now":
        return now
    if text[:1] in "+-":
        offset = parse_duration(text[1:])
        return now + offset if text[0] == "+" else now - offset
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a start like +10m, -2d, now or 2026-01-31T12:00:00Z") from None
    if moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone; add Z or an offset such as +03:00")
    return moment.astimezone(datetime.UTC)


def parse_fault(text, now):
    """``WELL-003:gas_lock:+10m:30m`` (well, kind, start, duration) -> FaultEpisode.

    The start may be an ISO time, which has colons of its own: ``WELL-003:overload:2026-01-31T12:00:00Z:2h``.
    """
    parts = text.strip().split(":")
    if len(parts) < 4:
        raise ValueError(f"{text!r}: expected WELL:KIND:START:DURATION, e.g. WELL-003:gas_lock:+10m:30m")
    well_id, kind, duration = parts[0], parts[1], parts[-1]
    return FaultEpisode(well_id, kind, parse_start(":".join(parts[2:-1]), now), parse_duration(duration))


# Faults ``--demo-faults`` schedules, so a newcomer sees diagnostics and alarms within minutes:
# (preferred well, kind, minutes after start, minutes long).
DEMO_FAULTS = (
    ("WELL-003", "gas_lock", 2, 20),
    ("WELL-007", "broken_shaft", 5, 30),
    ("WELL-009", "overload", 8, 20),
)


def demo_faults(now, well_ids):
    """A few faults starting minutes after ``now`` on the demo wells among ``well_ids`` (or the first others)."""
    available = list(well_ids)
    episodes = []
    for preferred, kind, after_minutes, minutes in DEMO_FAULTS:
        if preferred in available:
            well_id = preferred
        elif spare := [w for w in available if w not in {e.well_id for e in episodes}]:
            well_id = spare[0]
        else:
            break
        available.remove(well_id)
        start = now + datetime.timedelta(minutes=after_minutes)
        episodes.append(FaultEpisode(well_id, kind, start, datetime.timedelta(minutes=minutes)))
    return episodes


# --- Fault effects: each changes the conditions of one reading ------------------------------------
# Arguments: the conditions, the well's simulator, seconds since the episode started, its length in seconds.

# Gradual faults reach full strength after a quarter of the episode, at most this many seconds.
BUILD_UP_S = 600.0


def _build_up(elapsed_s, duration_s):
    """Strength of a gradual fault, 0 → 1 over the first quarter of its episode (at most BUILD_UP_S)."""
    return min(1.0, elapsed_s / min(BUILD_UP_S, duration_s / 4))


def _fault_gas_interference(c, well, elapsed_s, duration_s):
    """Gas slugs through the pump: head and load come and go (erratic flow and current), the annulus
    level falls (pip down), and the gas that can't enter the pump vents up the casing."""
    s = _build_up(elapsed_s, duration_s)
    slug = well.noise.random()
    c.gas = 0.35 * s * slug
    c.flow_scale *= 1 - 0.3 * s * slug
    c.pip_factor *= 1 - 0.3 * s
    c.casing_rise += 0.6 * s
    c.noise *= 1 + 3 * s
    c.vibration_extra += 0.8 * s * slug


def _fault_gas_lock(c, well, elapsed_s, duration_s):
    """The pump is full of gas and moves no liquid: flow and head collapse, current falls to ~45 %,
    the motor loses its cooling flow and heats; with no drawdown the annulus level (pip) recovers."""
    s = _build_up(elapsed_s, duration_s)
    c.gas = s * (0.85 + 0.1 * well.noise.random())
    c.flow_scale *= 1 - 0.97 * s
    c.casing_rise += 0.8 * s
    c.noise *= 1 + s


def _fault_pump_off(c, well, elapsed_s, duration_s):
    """The pump lifts more than the reservoir gives: the annulus is drawn down to the intake (pip near
    zero) and the pump alternates between catching fluid and gassing, so flow falls and current cycles
    (a 12-minute cycle here)."""
    s = _build_up(elapsed_s, duration_s)
    catching_fluid = (elapsed_s % 720) < 300
    c.pip_override = PUMPED_OFF_PIP_PSI
    c.flow_scale *= 1 - s * (0.3 if catching_fluid else 0.85)
    c.gas = s * (0.1 if catching_fluid else 0.6)


def _fault_broken_shaft(c, well, elapsed_s, duration_s):
    """The shaft parts: the motor spins at no load (30-40 % of nameplate), nothing is pumped (flow ~0,
    no head), and without drawdown pip climbs back to reservoir pressure."""
    c.shaft_broken = True
    c.vibration_extra -= 0.5 * well.vibration_mm_s


def _fault_tubing_leak(c, well, elapsed_s, duration_s):
    """A hole in the tubing sends part of the pumped fluid back down the annulus: less reaches the
    surface and the column above the pump loses pressure (discharge and tubing pressure fall), while the
    pump itself works as before (current about unchanged). The fluid that leaks back raises the annulus
    level (pip rises: the well gives up only what reaches the surface)."""
    s = _build_up(elapsed_s, duration_s)
    c.leak = 0.35 * s
    c.flow_scale *= 1 + 0.03 * s
    c.discharge_factor *= 1 - 0.12 * s
    c.tubing_factor *= 1 - 0.45 * s


def _fault_plugged_intake(c, well, elapsed_s, duration_s):
    """Scale, sand or debris on the intake screen starves the pump: the pressure inside the screen (intake
    pressure, the pump's suction) drops well below the annulus's, so discharge falls; flow falls and with
    it the load (current drops) and the cooling flow past the motor (motor temperature rises a little).
    The annulus is drawn down less, so pip (outside the screen) rises."""
    s = _build_up(elapsed_s, duration_s)
    c.intake_restriction += 0.45 * s
    c.flow_scale *= 1 - 0.4 * s


def _fault_deadhead(c, well, elapsed_s, duration_s):
    """A closed valve downstream: the pump churns at shut-off head (discharge and tubing pressure high,
    flow 0) drawing its shut-off power (~60 % of nameplate) with no flow to cool the motor."""
    c.valve_closed = True


def _fault_scale_wear(c, well, elapsed_s, duration_s):
    """Scale builds in the stages or they wear, over days: flow declines steadily while friction raises
    the motor's load (current up) and vibration."""
    progress = elapsed_s / duration_s
    c.flow_scale *= 1 - 0.25 * progress
    c.head_factor *= 1 - 0.15 * progress
    c.load_factor *= 1 + 0.3 * progress
    c.vibration_extra += 2.5 * progress


def _fault_overload(c, well, elapsed_s, duration_s):
    """Heavy or emulsified fluid (or low supply voltage): the motor draws ~120 % of nameplate and heats."""
    c.load_factor *= 1 + 0.38 * _build_up(elapsed_s, duration_s)


def _fault_high_motor_temp(c, well, elapsed_s, duration_s):
    """Motor cooling lost (scale on the housing, motor above the perforations): the winding heats past its
    limit at normal current."""
    c.extra_heat_c += max(20.0, well.spec.motor_temp_limit_c + 15.0 - well.normal_motor_temp_c)


def _fault_high_vibration(c, well, elapsed_s, duration_s):
    """Worn bearings or an unbalanced rotor: vibration climbs above the well's limit."""
    s = _build_up(elapsed_s, duration_s)
    c.vibration_extra += s * (1.4 * well.spec.vibration_limit_mm_s - well.vibration_mm_s)


def _fault_power_trip(c, well, elapsed_s, duration_s):
    """The drive trips: no current, no flow, pip builds back up and the motor cools. It restarts when the
    episode ends (the lags show the drawdown and heating afterwards)."""
    c.powered = False


def _fault_stale_sensor(c, well, elapsed_s, duration_s):
    """The controller keeps sending its last reading: every value frozen, exactly."""
    c.frozen = True


# The fault catalogue: each kind, what it looks like in the signals, and its effect.
FAULTS = {
    "gas_interference": Fault(
        "free gas at the intake: erratic flow and current, falling pip, rising casing pressure",
        _fault_gas_interference,
    ),
    "gas_lock": Fault(
        "the pump holds only gas: flow and current collapse, motor temperature rises, pip recovers",
        _fault_gas_lock,
    ),
    "pump_off": Fault(
        "inflow can't keep up: pip falls to near zero, flow falls, current drops and cycles",
        _fault_pump_off,
    ),
    "broken_shaft": Fault(
        "motor spins free: current at no-load (30-40 % of nameplate), flow ~0, pip rises",
        _fault_broken_shaft,
    ),
    "tubing_leak": Fault(
        "a hole in the tubing recirculates fluid: flow, discharge and tubing pressure fall, pip rises; current ~same",
        _fault_tubing_leak,
    ),
    "plugged_intake": Fault(
        "scale or sand on the intake screen: intake pressure drops while pip rises, flow and current fall, motor warms",
        _fault_plugged_intake,
    ),
    "deadhead": Fault(
        "closed surface valve: flow 0, discharge and tubing pressure high, current ~60 %, motor heats",
        _fault_deadhead,
    ),
    "scale_wear": Fault(
        "scale or worn stages, over days: flow declines, current and vibration rise",
        _fault_scale_wear,
    ),
    "overload": Fault(
        "heavy or emulsified fluid, low voltage: current above 115 % of nameplate, motor heats",
        _fault_overload,
    ),
    "high_motor_temp": Fault(
        "lost motor cooling: motor temperature above its limit at normal current",
        _fault_high_motor_temp,
    ),
    "high_vibration": Fault(
        "worn bearings or unbalance: vibration above the well's limit",
        _fault_high_vibration,
    ),
    "power_trip": Fault(
        "power lost: current and flow 0, pip builds up, motor cools; restarts when the episode ends",
        _fault_power_trip,
    ),
    "stale_sensor": Fault(
        "the controller repeats its last reading: every value frozen exactly",
        _fault_stale_sensor,
    ),
}
# kind: signature, as ``manage.py simulate --help`` lists them.
FAULT_KINDS = {kind: fault.signature for kind, fault in FAULTS.items()}


# --- Operating changes: each sets the conditions of a reading while it lasts ----------------------
# Arguments: the conditions, the well's simulator, the change (its ``ratio``).


def _change_choke_change(c, well, change):
    """The choke opened (ratio > 1) or closed (< 1): its drop at a given flow changes with 1 / opening^2 and
    the pump finds a new balance on its curve (``WellSimulator.choke_flow_ratio``). Closing it: flow falls,
    tubing pressure and discharge rise (the pump makes more head at less flow), pip rises, current falls a
    little; opening it does the opposite."""
    c.choke_factor /= change.ratio * change.ratio
    c.flow_scale *= well.choke_flow_ratio(change.ratio)


def _change_setpoint_change(c, well, change):
    """The drive's frequency changed by ``ratio``: flow ~ f, head ~ f^2, power ~ f^3 and current (the torque's
    share) ~ f^2; pip, tubing pressure and motor temperature follow the new flow."""
    c.speed *= change.ratio


def _change_shut_in(c, well, change):
    """The well is shut in: the pump is stopped (no current, no flow, pip builds up, the motor cools) and is
    restarted when the change ends; the lags show the drawdown and heating afterwards."""
    c.powered = False


OPERATING_CHANGES = {
    "choke_change": Change(
        "the wellhead choke opened or closed a step (ratio: new flow area / old): flow follows the "
        "pump curve, tubing pressure moves the other way, pip and current follow the flow",
        _change_choke_change,
    ),
    "setpoint_change": Change(
        "the drive's frequency set up or down (ratio: new / old): flow ~ f, head ~ f^2, power ~ f^3 "
        "(current follows torque, ~ f^2)",
        _change_setpoint_change,
    ),
    "shut_in": Change(
        "a planned shut-in: the pump is stopped, and restarted when the change ends",
        _change_shut_in,
    ),
}
