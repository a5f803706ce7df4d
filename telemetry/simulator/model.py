"""The pump model: what one well's pump controller would report at any moment, healthy or not.

Plain code over data (``PumpSpec``, ``WellSimulator``), with no ORM and no network, so it is tested
without a database. Faults and operating changes (``telemetry.simulator.faults``) change the conditions
a reading is computed from.

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
"""

import datetime
import math
import random
import zoneinfo
from dataclasses import dataclass

from telemetry.simulator.faults import FAULTS, HEALTHY, OPERATING_CHANGES, Conditions
from telemetry.storage.schema import READING_COLUMNS
from wells.validity import first_valid_time

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
        return first_valid_time(self.install_date, self.timezone)


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
        # The motor's temperature at nameplate current with full cooling flow.
        self.normal_motor_temp_c = self.bottomhole_temp_c + MOTOR_RISE_AT_NAMEPLATE_C
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
        # Seeded draws for gauge noise, and for the faults that come and go (gas slugs).
        self.noise = random.Random(f"{seed}:{spec.well_id}:noise")  # noqa: S311
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
        c = HEALTHY
        for start, end, change in self._changes:
            if start <= epoch < end:
                if c is HEALTHY:
                    c = Conditions()
                OPERATING_CHANGES[change.kind].effect(c, self, change)
        for start, end, fault in self._episodes:
            if start <= epoch < end:
                if c is HEALTHY:
                    c = Conditions()
                FAULTS[fault.kind].effect(c, self, epoch - start, end - start)

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

        k = int(self.noise.random() * _NORMALS_SIZE)
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
