"""Demo ESP telemetry: what each well's pump controller would report, healthy or in a named fault.

The signal model (``PumpSpec``, ``FaultEpisode``, ``WellSimulator``) is plain code over data, with no
ORM and no network, so it is tested without a database. The end of the module delivers the readings:
``backfill()`` writes days of history through ``telemetry.ingest.store_rows``, and ``run_live()`` sends
one reading per well every few seconds over MQTT or HTTP. ``manage.py simulate`` wraps both.

How a well's signals are made (``WellSimulator``):
- Each well runs near its own pump's rated flow (``PumpSpec`` from the ``Well`` row). The pump's head
  follows a centrifugal curve (about 1.3x the rated head at zero flow, falling with flow squared), so
  ``discharge_pressure`` = pip + pump head. ``tubing_pressure`` (at the wellhead) is the flowline's
  back-pressure plus the choke's drop, which grows with the surface flow squared. The motor draws a
  no-load share of its nameplate current (~35 %) plus a share that follows the pump's brake power, so a
  pump at its rated point draws ~90 % of nameplate. The motor runs hotter than the well's bottom-hole
  temperature by an amount rising with current squared and falling with the flow that cools it.
- pip is the reservoir pressure minus the drawdown the pump's flow causes: a pump that stops moving
  fluid (broken shaft, deadhead, gas lock, power trip) lets pip rise back towards reservoir pressure.
  pip and motor temperature follow their targets with a lag (minutes), as real wells do.
- A daily cycle (well-local time): flow ±1.5 %, tubing and casing pressure and motor temperature
  follow the surface temperature a little. A slow decline over weeks: depletion takes 6-12 % a year off
  the well's productivity (flow and pip fall), and a workover on each install anniversary restores it.
- Measurement noise on every gauge; seeded per well, so a run is repeatable with the same seed.

Fault episodes (``FaultEpisode``, kinds in ``FAULT_KINDS``, the names of
``analytics.models.DiagnosticType``) change the operating conditions the way the physics does; the
docstring of each ``_fault_*`` function says how. Gradual faults build up over the first quarter of
the episode (at most 10 minutes); ``scale_wear`` builds up over the whole episode.

Operating changes (``OperatingChange``, kinds in ``OPERATING_CHANGES``) are what a field does to a healthy
well on purpose: a choke opened or closed a step, the drive's frequency set up or down, a planned shut-in.
They move the signals as much as some faults do, and are not faults; the docstring of each ``_change_*``
function says how. They act as a step at the start and are undone at the end (a shut-in restarts the pump).
"""

import datetime
import json
import math
import multiprocessing
import queue
import random
import re
import threading
import time
import traceback
import urllib.error
import urllib.request
import zoneinfo
from dataclasses import dataclass

from telemetry.storage.schema import READING_COLUMNS

# The nine metrics in the order the write path (and ``WellSimulator.metrics_at``) uses them.
METRIC_NAMES = READING_COLUMNS[2:]

# Decimals a controller sends for each metric (flow and pressures 0.1, current and temperature 0.01, vibration
# 0.001). The backfill stores full precision: rounding a float costs more than computing it.
PAYLOAD_DECIMALS = (1, 1, 1, 1, 1, 1, 2, 2, 3)

# --- Pump and motor physics (typical catalogue figures for 400-675 series ESPs) -------------------

# Pressure gradient of produced oil and water (specific gravity ~0.88), psi per foot of column.
FLUID_GRADIENT_PSI_PER_FT = 0.38
# Head a stage makes at the rated flow, feet; drawn per well within this range.
STAGE_HEAD_FT = (22.0, 28.0)
# Head at zero flow (shut-in, "deadhead"), as a multiple of the head at rated flow.
SHUTOFF_HEAD_RATIO = 1.3
# Brake power of a centrifugal pump at zero flow, as a share of its power at rated flow.
SHUTOFF_POWER_RATIO = 0.45
# Motor current spinning a pump that moves nothing (broken shaft): 30-40 % of nameplate.
NO_LOAD_CURRENT_RATIO = 0.35
# Current added at the pump's rated brake power, so a pump at its rated point draws ~90 % of nameplate.
LOADED_CURRENT_RATIO = 0.55
# Motor temperature above the well's bottom-hole temperature at nameplate current and full cooling flow, °C.
MOTOR_RISE_AT_NAMEPLATE_C = 25.0
# With no flow past the motor only this share of the cooling is left (conduction to the casing fluid).
RESIDUAL_COOLING = 0.1
# Time constants of the lags, seconds: motor winding heating/cooling and annulus fluid level.
MOTOR_TEMP_LAG_S = 15 * 60
PIP_LAG_S = 10 * 60
# Readings further apart than this start the lags afresh (the first reading, or after a gap).
LAG_RESET_S = 6 * 3600
# pip the pump-off episode draws the annulus down to, psi: fluid level at the intake.
PUMPED_OFF_PIP_PSI = 25.0

FAULT_KINDS = {
    "gas_interference": "free gas at the intake: erratic flow and current, falling pip, rising casing pressure",
    "gas_lock": "the pump holds only gas: flow and current collapse, motor temperature rises, pip recovers",
    "pump_off": "inflow can't keep up: pip falls to near zero, flow falls, current drops and cycles",
    "broken_shaft": "motor spins free: current at no-load (30-40 % of nameplate), flow ~0, pip rises",
    "tubing_leak": "a hole in the tubing recirculates fluid: flow, discharge and tubing pressure fall, pip rises; "
    "current ~same",
    "plugged_intake": "scale or sand on the intake screen: intake pressure drops while pip rises, flow and current "
    "fall, motor warms",
    "deadhead": "closed surface valve: flow 0, discharge and tubing pressure high, current ~60 %, motor heats",
    "scale_wear": "scale or worn stages, over days: flow declines, current and vibration rise",
    "overload": "heavy or emulsified fluid, low voltage: current above 115 % of nameplate, motor heats",
    "high_motor_temp": "lost motor cooling: motor temperature above its limit at normal current",
    "high_vibration": "worn bearings or unbalance: vibration above the well's limit",
    "power_trip": "power lost: current and flow 0, pip builds up, motor cools; restarts when the episode ends",
    "stale_sensor": "the controller repeats its last reading: every value frozen exactly",
}


OPERATING_CHANGES = {
    "choke_change": "the wellhead choke opened or closed a step (ratio: new flow area / old): flow follows the "
    "pump curve, tubing pressure moves the other way, pip and current follow the flow",
    "setpoint_change": "the drive's frequency set up or down (ratio: new / old): flow ~ f, head ~ f^2, power ~ f^3 "
    "(current follows torque, ~ f^2)",
    "shut_in": "a planned shut-in: the pump is stopped, and restarted when the change ends",
}


@dataclass(frozen=True)
class PumpSpec:
    """The figures of one well's ESP string that the simulated signals are derived from."""

    well_id: str
    rated_flow_bpd: float
    pump_stages: int
    motor_nameplate_current_a: float
    motor_temp_limit_c: float = 150.0
    vibration_limit_mm_s: float = 7.1
    install_date: datetime.date = datetime.date(2024, 1, 1)
    timezone: str = "UTC"

    @classmethod
    def of(cls, well):
        """The spec of a ``wells.models.Well``."""
        return cls(
            well_id=well.well_id,
            rated_flow_bpd=well.rated_flow_bpd,
            pump_stages=well.pump_stages,
            motor_nameplate_current_a=well.motor_nameplate_current_a,
            motor_temp_limit_c=well.motor_temp_limit_c,
            vibration_limit_mm_s=well.vibration_limit_mm_s,
            install_date=well.install_date,
            timezone=well.timezone,
        )

    def first_valid_time(self):
        """Midnight of the install date in the well's time zone, UTC: ingest refuses anything earlier."""
        local = datetime.datetime.combine(self.install_date, datetime.time.min, zoneinfo.ZoneInfo(self.timezone))
        return local.astimezone(datetime.UTC)


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


# --- One well's signals ----------------------------------------------------------------------------


class _Conditions:
    """What drives one reading: the healthy operating point, changed by any active operating changes, then faults.

    The class attributes are the healthy values; a change or fault sets its own on an instance. Readings with
    neither active share one instance (``_HEALTHY``), which matters at millions of readings.
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


_HEALTHY = _Conditions()


# Standard normal deviates for measurement noise. Each reading takes nine consecutive ones from a random
# place in the table: as good as fresh draws for gauge noise, and far cheaper than nine random.gauss calls.
_NORMALS_SIZE = 8191
_normals_source = random.Random("esp-simulator-noise")  # noqa: S311 (demo data, not secrets)
_STANDARD_NORMALS = [_normals_source.gauss(0.0, 1.0) for _ in range(_NORMALS_SIZE + 16)]

SECONDS_PER_YEAR = 365.25 * 86400


class WellSimulator:
    """The pump controller of one well: a reading for any moment, healthy, changed by its operating changes
    or during its fault episodes.

    Readings must be asked for in time order (the lags and a frozen sensor carry state from one reading
    to the next). With the same seed, spec, faults, changes and sequence of times the readings are identical.
    """

    def __init__(self, spec, *, seed=0, faults=(), changes=()):
        self.spec = spec
        self.faults = sorted((f for f in faults if f.well_id == spec.well_id), key=lambda f: f.start)
        self.changes = sorted((c for c in changes if c.well_id == spec.well_id), key=lambda c: c.start)
        for kind in OPERATING_CHANGES:
            same_kind = [c for c in self.changes if c.kind == kind]
            for earlier, later in zip(same_kind, same_kind[1:], strict=False):
                if later.start < earlier.end:
                    raise ValueError(f"operating changes overlap: {earlier} and {later}")
        # Each well draws its own operating point, so the fleet isn't twelve copies of one pump.
        # Demo data, not secrets: a seeded, repeatable generator is what's wanted.
        draw = random.Random(f"{seed}:{spec.well_id}:well")  # noqa: S311
        self.operating_fraction = draw.uniform(0.9, 1.02)  # share of rated flow it runs at after a workover
        # Productivity lost per year to depletion; a yearly workover on the install anniversary restores it.
        self.decline_per_year = draw.uniform(0.06, 0.12)
        self.initial_pip_psi = draw.uniform(550.0, 1300.0)
        self.drawdown_psi = draw.uniform(250.0, 600.0)  # pip below reservoir pressure at the initial flow
        self.rated_head_psi = spec.pump_stages * draw.uniform(*STAGE_HEAD_FT) * FLUID_GRADIENT_PSI_PER_FT
        # Wellhead (tubing) pressure: the flowline's back-pressure plus the drop across the choke, which
        # grows with the flow squared.
        self.flowline_psi = draw.uniform(80.0, 150.0)
        self.choke_drop_psi = draw.uniform(60.0, 180.0)
        self.casing_psi = draw.uniform(40.0, 160.0)
        self.bottomhole_temp_c = draw.uniform(80.0, 100.0)
        self.vibration_mm_s = draw.uniform(0.8, 2.0)
        # The fluid column between pump and wellhead: what the discharge holds up with the valve shut.
        self.column_psi = (
            self.initial_pip_psi + self._head_psi(self.operating_fraction) - self.flowline_psi - self.choke_drop_psi
        )
        self._install_epoch = spec.first_valid_time().timestamp()
        # The daily cycle uses the zone's offset at install time: a DST shift moves it by an hour, no more.
        offset = spec.first_valid_time().astimezone(zoneinfo.ZoneInfo(spec.timezone)).utcoffset()
        self._utc_offset_h = offset.total_seconds() / 3600
        self._episodes = [(f.start.timestamp(), f.end.timestamp(), f) for f in self.faults]
        self._changes = [(c.start.timestamp(), c.end.timestamp(), c) for c in self.changes]
        self._choke_flow_ratios = {}
        self._noise = random.Random(f"{seed}:{spec.well_id}:noise")  # noqa: S311
        self._last_epoch = None
        self._last_gap = None
        self._pip_follow = self._temp_follow = 1.0
        self._pip = None
        self._motor_temp = None
        self._last_metrics = None

    def _head_psi(self, flow_fraction):
        """Head the pump makes at this share of its rated flow, psi (a centrifugal curve)."""
        return self.rated_head_psi * (SHUTOFF_HEAD_RATIO - (SHUTOFF_HEAD_RATIO - 1.0) * flow_fraction**2)

    def active_faults(self, time):
        """The episodes of this well covering ``time``."""
        epoch = time.timestamp()
        return [fault for start, end, fault in self._episodes if start <= epoch < end]

    def choke_flow_ratio(self, opening):
        """The pump's flow, as a share of its normal one, once the choke's flow area is ``opening`` times normal.

        The pump's head (which rises as its flow falls) balances the fluid column, the flowline and the
        choke's drop (which grows with the flow squared and falls with the opening squared), while pip rises
        as the drawdown eases: a quadratic in the flow ratio, 1 at opening 1. A high-head pump barely
        notices the choke; a low-head pump with a big choke drop follows it.
        """
        if opening not in self._choke_flow_ratios:
            curve_psi = (SHUTOFF_HEAD_RATIO - 1.0) * self.rated_head_psi * self.operating_fraction**2
            a = curve_psi + self.choke_drop_psi / opening**2
            b = self.drawdown_psi
            c = curve_psi + self.choke_drop_psi + self.drawdown_psi
            self._choke_flow_ratios[opening] = (-b + math.sqrt(b * b + 4 * a * c)) / (2 * a)
        return self._choke_flow_ratios[opening]

    def metrics_at(self, time):
        """The nine metrics at ``time`` (aware datetime), in ``METRIC_NAMES`` order; see the module docstring."""
        return self.metrics_at_epoch(time.timestamp())

    def payload_at(self, time):
        """The reading at ``time`` as the controller sends it: a dict ready for JSON (the ingest wire format)."""
        time = time.astimezone(datetime.UTC)
        stamp = time.isoformat(timespec="milliseconds" if time.microsecond else "seconds").replace("+00:00", "Z")
        values = zip(METRIC_NAMES, self.metrics_at(time), PAYLOAD_DECIMALS, strict=True)
        return {"well_id": self.spec.well_id, "timestamp": stamp, **{n: round(v, d) for n, v, d in values}}

    def metrics_at_epoch(self, epoch):
        """``metrics_at`` for a time in seconds since 1970 UTC (the fast path of the backfill)."""
        spec = self.spec
        gap = None if self._last_epoch is None else epoch - self._last_epoch
        if gap is not None and gap <= 0:
            raise ValueError(f"{spec.well_id}: readings must be asked for in time order")
        self._last_epoch = epoch

        decline = 1.0 - self.decline_per_year * (max(0.0, epoch - self._install_epoch) / SECONDS_PER_YEAR % 1.0)
        local_hour = (epoch / 3600 + self._utc_offset_h) % 24
        day_cycle = math.sin(2 * math.pi * (local_hour - 9) / 24)  # +1 at 15:00, -1 at 03:00 local
        c = _HEALTHY
        for start, end, change in self._changes:
            if start <= epoch < end:
                if c is _HEALTHY:
                    c = _Conditions()
                _CHANGE_EFFECTS[change.kind](c, self, change)
        for start, end, fault in self._episodes:
            if start <= epoch < end:
                if c is _HEALTHY:
                    c = _Conditions()
                _FAULT_EFFECTS[fault.kind](c, self, epoch - start, end - start)

        # Operating point: the pump's share of its rated flow, and what it does to pip, head and the motor.
        # Off its normal frequency the pump follows the affinity laws: flow ~ speed, head ~ speed^2 and
        # power ~ speed^3 at the same point of its curve; at the drive's constant V/f the current follows the
        # torque, ~ speed^2.
        turning = c.powered and not c.shaft_broken
        speed = c.speed
        if turning and not c.valve_closed:
            pump_flow = self.operating_fraction * decline * (1 + 0.015 * day_cycle) * c.flow_scale * speed
        else:
            pump_flow = 0.0
        if c.pip_override is not None:
            pip_target = c.pip_override
        else:
            # Depletion lowers the reservoir pressure a little; the flow leaving the well (what the pump lifts
            # less what leaks back down the annulus) draws pip below it.
            reservoir_psi = (self.initial_pip_psi + self.drawdown_psi) * (0.7 + 0.3 * decline)
            outflow = pump_flow * (1 - c.leak)
            pip_target = (reservoir_psi - self.drawdown_psi * outflow / self.operating_fraction) * c.pip_factor
        gas = c.gas
        curve_flow = pump_flow / speed  # the point of the curve at normal frequency
        head_psi = speed * speed * self._head_psi(curve_flow) * c.head_factor * (1 - 0.9 * gas) if turning else 0.0
        nameplate = spec.motor_nameplate_current_a
        if not c.powered:
            current = 0.0
        elif c.shaft_broken:
            current = nameplate * NO_LOAD_CURRENT_RATIO
        else:
            brake_power = speed * speed * (SHUTOFF_POWER_RATIO + (1 - SHUTOFF_POWER_RATIO) * curve_flow)
            current = nameplate * (NO_LOAD_CURRENT_RATIO + LOADED_CURRENT_RATIO * brake_power * (1 - 0.8 * gas))
            current *= c.load_factor
        if c.powered:
            cooling = RESIDUAL_COOLING + (1 - RESIDUAL_COOLING) * min(1.0, pump_flow * (1 - gas))
            rise = MOTOR_RISE_AT_NAMEPLATE_C * (current / nameplate) ** 2 / cooling
            temp_target = self.bottomhole_temp_c + rise + c.extra_heat_c + 0.8 * day_cycle
        else:
            temp_target = self.bottomhole_temp_c

        # Lags: the annulus level and the motor's heat don't change at once.
        if gap is None or gap > LAG_RESET_S:
            self._pip, self._motor_temp = pip_target, temp_target
        else:
            if gap != self._last_gap:
                self._last_gap = gap
                self._pip_follow = 1 - math.exp(-gap / PIP_LAG_S)
                self._temp_follow = 1 - math.exp(-gap / MOTOR_TEMP_LAG_S)
            self._pip += (pip_target - self._pip) * self._pip_follow
            self._motor_temp += (temp_target - self._motor_temp) * self._temp_follow
        if c.frozen and self._last_metrics is not None:
            return self._last_metrics

        pip = self._pip
        # The pump adds its head to the pressure at its suction, inside the intake screen.
        discharge = (pip * (1 - c.intake_restriction) + head_psi) * c.discharge_factor
        surface_flow = pump_flow * (1 - c.leak)
        relative_flow = surface_flow / self.operating_fraction
        tubing = self.flowline_psi + self.choke_drop_psi * c.choke_factor * relative_flow * relative_flow
        if c.valve_closed:  # shut downstream of the wellhead gauge: the pump's pressure builds up to it
            tubing = max(tubing, discharge - self.column_psi)
        tubing *= c.tubing_factor * (1 + 0.02 * day_cycle)

        k = int(self._noise.random() * _NORMALS_SIZE)
        z0, z1, z2, z3, z4, z5, z6, z7, z8 = _STANDARD_NORMALS[k : k + 9]
        noise = c.noise
        flow = surface_flow * spec.rated_flow_bpd * (1 + z0 * 0.01 * noise)
        pip_read = pip + z1 * (2 + 0.003 * pip) * noise
        casing = self.casing_psi * (1 + c.casing_rise) * (1 + 0.03 * day_cycle) + z2 * 1.5
        tubing += z3 * 2.0 * noise
        intake = pip_read * (0.99 - c.intake_restriction) + z4
        discharge += z5 * 4.0 * noise
        current *= 1 + z6 * 0.008 * noise
        vibration = self.vibration_mm_s + c.vibration_extra + z8 * 0.05 * noise if turning else 0.0
        # Gauges don't read below zero (written out: max() costs twice as much at millions of readings).
        metrics = (
            flow if flow > 0.0 else 0.0,
            pip_read if pip_read > 0.0 else 0.0,
            casing if casing > 0.0 else 0.0,
            tubing if tubing > 0.0 else 0.0,
            intake if intake > 0.0 else 0.0,
            discharge if discharge > 0.0 else 0.0,
            current if current > 0.0 else 0.0,
            self._motor_temp + z7 * 0.2,
            vibration if vibration > 0.0 else 0.0,
        )
        self._last_metrics = metrics
        return metrics


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
    slug = well._noise.random()
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
    c.gas = s * (0.85 + 0.1 * well._noise.random())
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
    normal_c = well.bottomhole_temp_c + MOTOR_RISE_AT_NAMEPLATE_C
    c.extra_heat_c += max(20.0, well.spec.motor_temp_limit_c + 15.0 - normal_c)


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


_FAULT_EFFECTS = {kind: globals()[f"_fault_{kind}"] for kind in FAULT_KINDS}


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


_CHANGE_EFFECTS = {kind: globals()[f"_change_{kind}"] for kind in OPERATING_CHANGES}


# --- Backfill --------------------------------------------------------------------------------------


def generate_rows(simulators, well_pks, first_epochs, start_epoch, end_epoch, interval_s):
    """Rows for ``store_rows`` — (well pk, UTC time, nine metrics) — time by time, every well at each time.

    ``first_epochs[i]`` is the earliest time well i may report (install date, retention); earlier times
    are skipped for that well. Times run over [start_epoch, end_epoch) in steps of ``interval_s``.
    """
    wells = list(zip(simulators, well_pks, first_epochs, strict=True))
    epoch = start_epoch
    while epoch < end_epoch:
        time = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        for simulator, well_pk, first_epoch in wells:
            if epoch >= first_epoch:
                yield (well_pk, time, *simulator.metrics_at_epoch(epoch))
        epoch += interval_s


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _BackfillPlan:
    """Everything needed to generate a backfill's rows, picklable for the generating process."""

    specs: list
    well_pks: list
    first_epochs: list
    faults: tuple
    seed: int
    start_epoch: float
    end_epoch: float
    interval_s: int
    chunk_size: int

    def chunks(self):
        simulators = [WellSimulator(spec, seed=self.seed, faults=self.faults) for spec in self.specs]
        rows = generate_rows(
            simulators, self.well_pks, self.first_epochs, self.start_epoch, self.end_epoch, self.interval_s
        )
        return _chunks(rows, self.chunk_size)

    def row_estimate(self):
        return len(self.specs) * max(0.0, self.end_epoch - self.start_epoch) / self.interval_s


def _generate_chunks_into(plan, chunks):
    """Body of the generating process: put each chunk of rows on ``chunks``, then None (or the error text)."""
    try:
        for chunk in plan.chunks():
            chunks.put(chunk)
        chunks.put(None)
    except Exception:  # the writing process re-raises it with the traceback
        chunks.put(traceback.format_exc())


def _chunks_from_another_process(plan):
    """``plan.chunks()``, computed by a second process while this one writes.

    A process, not a thread: generating is pure Python and would hold the GIL that the writing thread
    needs between its COPY round trips. Forked, so it needs no importable ``__main__``; the child never
    touches the database connection it inherits and leaves through ``os._exit`` without closing it.
    """
    context = multiprocessing.get_context("fork")
    chunks = context.Queue(maxsize=4)
    producer = context.Process(
        target=_generate_chunks_into, args=(plan, chunks), name="simulate-backfill-rows", daemon=True
    )
    producer.start()
    try:
        while True:
            try:
                chunk = chunks.get(timeout=1.0)
            except queue.Empty:
                if not producer.is_alive():
                    raise RuntimeError(
                        f"the backfill's generating process died (exit code {producer.exitcode})"
                    ) from None
                continue
            if chunk is None:
                return
            if isinstance(chunk, str):
                raise RuntimeError(f"generating the backfill failed:\n{chunk}")
            yield chunk
    finally:
        if producer.is_alive():
            producer.terminate()
        producer.join()


# Below this many rows the second process costs more to start than it saves.
PARALLEL_BACKFILL_MIN_ROWS = 200_000


def backfill(wells, start, end, interval=60, faults=(), seed=0, *, chunk_size=10_000, on_chunk=None):
    """Write simulated readings for ``wells`` (Well rows) over [start, end) every ``interval`` seconds.

    Times are aligned to whole multiples of ``interval`` and end at the present at the latest; times
    before a well's install date or outside the raw-data retention window are skipped. Rows go through
    ``telemetry.ingest.store_rows`` (binary COPY, duplicates ignored, the rollups' change log written) in
    chunks of ``chunk_size``, each its own transaction. Large backfills generate rows in a second process
    while this one writes. ``on_chunk(generated, inserted)`` is called after each chunk with running
    totals. Returns how many rows were inserted (re-running over the same range inserts none).
    """
    from django.conf import settings

    from telemetry.ingest import store_rows

    now = datetime.datetime.now(datetime.UTC)
    # A minute inside the retention cut-off, so the oldest rows aren't on the edge of being refused.
    oldest = (now - datetime.timedelta(days=settings.TELEMETRY_RETENTION_DAYS, minutes=-1)).timestamp()
    interval = int(interval)
    specs = [PumpSpec.of(well) for well in wells]
    plan = _BackfillPlan(
        specs=specs,
        well_pks=[well.pk for well in wells],
        first_epochs=[max(spec.first_valid_time().timestamp(), oldest) for spec in specs],
        faults=tuple(faults),
        seed=seed,
        start_epoch=math.ceil(start.timestamp() / interval) * interval,
        end_epoch=min(end, now).timestamp(),
        interval_s=interval,
        chunk_size=chunk_size,
    )
    parallel = plan.row_estimate() >= PARALLEL_BACKFILL_MIN_ROWS
    generated = inserted = 0
    for chunk in _chunks_from_another_process(plan) if parallel else plan.chunks():
        inserted += store_rows(chunk)
        generated += len(chunk)
        if on_chunk:
            on_chunk(generated, inserted)
    return inserted


# --- Live: one reading per well every few seconds, delivered the way a controller would -------------


def topic_for(well_id, topic_filter):
    """The topic a well's controller publishes to: the bridge's filter with its ``+`` replaced by the well id."""
    return "/".join(well_id if level == "+" else level for level in topic_filter.split("/"))


class MqttDelivery:
    """Publishes each reading with QoS 1 to the well's own topic, as a controller with an MQTT client does."""

    def __init__(self, url, topic_filter, client_id=None):
        import paho.mqtt.client as mqtt

        from telemetry.mqtt_bridge import BROKER_RETRY_FIRST_S, BROKER_RETRY_MAX_S, BrokerAddress

        self.topic_filter = topic_filter
        self.broker = BrokerAddress.from_url(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5)
        self.broker.configure(self.client)
        self.client.reconnect_delay_set(BROKER_RETRY_FIRST_S, BROKER_RETRY_MAX_S)
        # While the broker is unreachable paho keeps what we publish; bound it like a controller's buffer.
        self.client.max_queued_messages_set(10_000)
        self.client.on_publish = self._on_publish
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self.sent = 0
        self.acknowledged = 0  # PUBACKs from the broker (counted in paho's thread)

    def __str__(self):
        return f"MQTT {self.broker} ({self.topic_filter})"

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self.acknowledged += 1

    def send(self, payloads):
        """Publish the readings; returns a short report. Until connected, paho queues them."""
        for payload in payloads:
            self.client.publish(topic_for(payload["well_id"], self.topic_filter), json.dumps(payload), qos=1)
        self.sent += len(payloads)
        return f"published {len(payloads)}, {self.sent - self.acknowledged} awaiting the broker's PUBACK"

    def close(self, timeout_s=5.0):
        """Give the broker up to ``timeout_s`` to acknowledge what was published, then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.acknowledged < self.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()


class HttpDelivery:
    """POSTs each round of readings to ``/api/v1/telemetry/batch`` with a Bearer token, as a SCADA gateway does.

    Signs in at ``/api/v1/auth/login`` with an operator's username and password, and again when the
    access token has expired (401).
    """

    def __init__(self, base_url, username, password, timeout_s=10.0):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self._token = None

    def __str__(self):
        return f"HTTP {self.base_url}/api/v1/telemetry/batch as {self.username}"

    def _post(self, path, body, token=None):
        """(status, decoded JSON body) of a POST; never raises for an HTTP error status."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own --url, http or https)
            self.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}

    def _sign_in(self):
        status, body = self._post("/api/v1/auth/login", {"username": self.username, "password": self.password})
        if status != 200:
            raise RuntimeError(f"signing in as {self.username} failed with HTTP {status}: {body}")
        self._token = body["access_token"]

    def send(self, payloads):
        if self._token is None:
            self._sign_in()
        status, body = self._post("/api/v1/telemetry/batch", {"readings": payloads}, self._token)
        if status == 401:
            self._sign_in()
            status, body = self._post("/api/v1/telemetry/batch", {"readings": payloads}, self._token)
        if status != 201:
            raise RuntimeError(f"the batch was refused with HTTP {status}: {body}")
        return f"posted {body['received']}: {body['inserted']} inserted, {body['duplicates']} duplicates"

    def close(self):
        pass


def run_live(simulators, deliver, interval_s=10, *, stop=None, ticks=None, say=print, report_every_s=60):
    """Send one reading per well every ``interval_s`` seconds until ``stop`` (a threading.Event) is set.

    The first round goes out at once, the next ones on whole multiples of the interval (rounds missed
    while delivery was stuck are skipped, as a controller would). ``deliver.send(payloads)`` gets a
    list of JSON-ready readings per round; a failed round is reported and the next one tried.
    ``ticks`` stops after that many rounds. Fault episodes starting and ending are announced with ``say``.
    Returns how many rounds were sent.
    """
    stop = stop or threading.Event()
    rounds = 0
    active = set()
    next_report = 0.0
    tick = math.floor(time.time())
    while not stop.is_set():
        moment = datetime.datetime.fromtimestamp(tick, datetime.UTC)
        now_active = {fault for simulator in simulators for fault in simulator.active_faults(moment)}
        for fault in sorted(now_active - active, key=str):
            say(f"fault starts: {fault}")
        for fault in sorted(active - now_active, key=str):
            say(f"fault ends: {fault.well_id} {fault.kind}")
        active = now_active
        payloads = [simulator.payload_at(moment) for simulator in simulators]
        try:
            outcome = deliver.send(payloads)
        except Exception as error:  # the broker or server may be down; a controller tries again next round
            say(f"{moment:%H:%M:%S}Z delivery failed: {error}")
        else:
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + report_every_s
                say(f"{moment:%H:%M:%S}Z {len(payloads)} wells: {outcome}")
        rounds += 1
        if ticks is not None and rounds >= ticks:
            break
        aligned_next = (tick // interval_s + 1) * interval_s
        tick = max(aligned_next, math.ceil(time.time() / interval_s) * interval_s)
        stop.wait(max(0.0, tick - time.time()))
    return rounds
