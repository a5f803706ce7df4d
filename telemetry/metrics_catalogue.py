"""The metrics a reading carries: unit, accepted range and whether a device must send it.

The one place for these: ingest validates against it (``telemetry.ingest``), the API docs describe it
(``telemetry.api.docs``) and the dashboards label their charts and tables with its units
(``dashboards.charts``). A bound or a unit changes here and nowhere else.
"""

from dataclasses import dataclass

# Gauge pressures: -15 psi is just below full vacuum (-14.7 psig); 20,000 psi is beyond any ESP.
PRESSURE_MIN_PSI = -15.0
PRESSURE_MAX_PSI = 20_000.0


@dataclass(frozen=True)
class Metric:
    """One measured quantity of a reading. ``lowest``..``highest`` (inclusive) is the physically possible
    range: wider than any real ESP reaches, narrow enough to catch unit mix-ups (kPa for psi, °F for °C)
    and broken sensors."""

    field: str
    description: str
    unit: str
    lowest: float
    highest: float
    required: bool = False


# In the order of ``telemetry.models.Reading.METRIC_FIELDS``.
METRICS = (
    Metric("flow_rate", "Liquid rate", "bbl/d", 0.0, 100_000.0, required=True),
    Metric("pip", "Pump intake pressure", "psi", PRESSURE_MIN_PSI, PRESSURE_MAX_PSI, required=True),
    Metric("casing_pressure", "Casing pressure", "psi", PRESSURE_MIN_PSI, PRESSURE_MAX_PSI),
    Metric("tubing_pressure", "Tubing pressure", "psi", PRESSURE_MIN_PSI, PRESSURE_MAX_PSI),
    Metric("intake_pressure", "Intake gauge pressure", "psi", PRESSURE_MIN_PSI, PRESSURE_MAX_PSI),
    Metric("discharge_pressure", "Discharge pressure", "psi", PRESSURE_MIN_PSI, PRESSURE_MAX_PSI),
    Metric("motor_current", "Motor current", "A", 0.0, 2_000.0, required=True),
    Metric("motor_temp", "Motor temperature", "°C", -40.0, 300.0),
    Metric("vibration", "Vibration, RMS", "mm/s", 0.0, 200.0),
)
METRIC_BY_FIELD = {metric.field: metric for metric in METRICS}
REQUIRED_METRICS = tuple(metric.field for metric in METRICS if metric.required)


def unit_of(field):
    """The unit ``field`` is stored and shown in (KeyError for a field that is not a metric)."""
    return METRIC_BY_FIELD[field].unit
