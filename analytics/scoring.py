"""Efficiency and health scores of an ESP for one hour of telemetry, both 0–100.

One definition, two forms: ``EFFICIENCY_SQL`` / ``HEALTH_SQL``, the SQL expressions of the
``well_performance_hourly`` view, and ``efficiency_score`` / ``health_score``, the same formulas in
Python as the independent oracle the tests check both the expressions and the deployed view against.

Inputs are hourly averages (and the hourly maximum motor temperature) plus the well's own pump
specification (every well has one: the fields are required). A missing sensor (motor temperature or
vibration not reported) costs no points, since it says nothing about the pump.

Health starts at 100 and loses:
- up to 40 points for motor temperature: nothing while the hour's maximum is below 80 % of the
  motor's limit, rising linearly to 40 at the limit;
- up to 35 points for vibration: nothing below half the limit, rising linearly to 35 at the limit;
- up to 25 points for current far from nameplate: nothing within ±10 %, rising linearly to 25 at
  ±50 % (an underloaded motor means gas or a broken shaft; an overloaded one, wear or viscosity).

Efficiency is 60 points for where the delivered flow sits against the pump's recommended range
plus 40 points for flow per ampere against the pump's design flow per ampere:
- flow inside [min, max]: 60 × (1 − 0.3 × |flow − rated| / (max − min)) — best at the rated point;
  below min: 42 × flow / min (down to 0 at no flow); above max: 42 × (1 − (flow − max) / max);
- 40 × min(1, (flow / current) / (rated / nameplate current)); nothing when no current is drawn.
"""


# ``specs`` below is anything with the pump's fields — rated_flow_bpd, min_operating_flow_bpd,
# max_operating_flow_bpd, motor_nameplate_current_a, motor_temp_limit_c, vibration_limit_mm_s — such as a
# ``wells.models.Well`` or the diagnostics' ``WellSpec`` (analytics.diagnostics.rules).


def _clamp(value, low=0.0, high=1.0):
    return max(low, min(high, value))


def health_score(specs, *, avg_motor_current, max_motor_temp=None, avg_vibration=None):
    """0–100; 100 is a pump running cool, smooth and at nameplate current."""
    penalty = 0.0
    if max_motor_temp is not None:
        penalty += 40 * _clamp((max_motor_temp / specs.motor_temp_limit_c - 0.8) / 0.2)
    if avg_vibration is not None:
        penalty += 35 * _clamp((avg_vibration / specs.vibration_limit_mm_s - 0.5) / 0.5)
    if avg_motor_current is not None:
        deviation = abs(avg_motor_current - specs.motor_nameplate_current_a) / specs.motor_nameplate_current_a
        penalty += 25 * _clamp((deviation - 0.1) / 0.4)
    return _clamp(100 - penalty, 0, 100)


def efficiency_score(specs, *, avg_flow_rate, avg_motor_current):
    """0–100; 100 is a pump delivering its rated flow at its design flow per ampere."""
    rated, low, high = specs.rated_flow_bpd, specs.min_operating_flow_bpd, specs.max_operating_flow_bpd
    flow = avg_flow_rate
    if flow < low:
        placement = 42 * _clamp(flow / low) if low > 0 else 0.0
    elif flow > high:
        placement = 42 * _clamp(1 - (flow - high) / high)
    else:
        placement = 60 * (1 - 0.3 * abs(flow - rated) / (high - low)) if high > low else 60.0
    if avg_motor_current and avg_motor_current > 0:
        design = rated / specs.motor_nameplate_current_a
        delivery = 40 * _clamp((flow / avg_motor_current) / design)
    else:
        delivery = 0.0
    return _clamp(placement + delivery, 0, 100)


# The same formulas over columns: h = an hourly rollup row, s = the well (its pump specification);
# clamp(x) is LEAST(1.0, GREATEST(0.0, x)). NULL sensors cost nothing
# (COALESCE(…, 0) on each penalty). The deployed view ``well_performance_hourly`` holds a copy made
# by a migration: change these and add one (``analytics.checks`` fails until it is applied).
HEALTH_SQL = """LEAST(100.0, GREATEST(0.0, 100.0
    - COALESCE(40 * LEAST(1.0, GREATEST(0.0, (h.max_motor_temp / s.motor_temp_limit_c - 0.8) / 0.2)), 0)
    - COALESCE(35 * LEAST(1.0, GREATEST(0.0, (h.avg_vibration / s.vibration_limit_mm_s - 0.5) / 0.5)), 0)
    - COALESCE(25 * LEAST(1.0, GREATEST(0.0,
        (ABS(h.avg_motor_current - s.motor_nameplate_current_a) / s.motor_nameplate_current_a - 0.1) / 0.4)), 0)))"""

EFFICIENCY_SQL = """LEAST(100.0, GREATEST(0.0,
    CASE
        WHEN h.avg_flow_rate < s.min_operating_flow_bpd THEN
            CASE WHEN s.min_operating_flow_bpd > 0
                 THEN 42 * LEAST(1.0, GREATEST(0.0, h.avg_flow_rate / s.min_operating_flow_bpd))
                 ELSE 0 END
        WHEN h.avg_flow_rate > s.max_operating_flow_bpd THEN
            42 * LEAST(1.0, GREATEST(0.0, 1 - (h.avg_flow_rate - s.max_operating_flow_bpd) / s.max_operating_flow_bpd))
        WHEN s.max_operating_flow_bpd > s.min_operating_flow_bpd THEN
            60 * (1 - 0.3 * ABS(h.avg_flow_rate - s.rated_flow_bpd)
                  / (s.max_operating_flow_bpd - s.min_operating_flow_bpd))
        ELSE 60 END
    + CASE WHEN h.avg_motor_current > 0
           THEN 40 * LEAST(1.0, GREATEST(0.0,
               (h.avg_flow_rate / h.avg_motor_current) / (s.rated_flow_bpd / s.motor_nameplate_current_a)))
           ELSE 0 END))"""
