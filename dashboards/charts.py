"""A well's trend charts: which series each chart shows, and their data, downsampled by PostgreSQL.

A chart never gets more points than it has pixels: the browser says how wide its charts are, and the
window is cut into at most that many buckets. Each bucket carries the mean and the **lowest and highest**
value in it, drawn as a line with a shaded band, so a spike that lasts one reading still shows at any
zoom (an average alone, or LTTB picking one point per bucket, can drop it).

Where the data comes from depends on the range (``RANGES``):
- up to 7 days, raw readings: the band is the lowest and highest *reading* in each bucket;
- 30 days and 1 year, the hourly rollup ``telemetry_hourly``: each hour is its mean, and the band the
  lowest and highest hourly mean in the bucket — except flow (the hour's lowest and highest reading)
  and motor temperature (the hour's highest reading), which the rollup keeps. Spikes shorter than an
  hour in the other sensors show on the 7-day chart.

Bucket widths come from ``STEPS`` so that they stay put from one refresh to the next (the buckets are
aligned to ``ORIGIN``): a live chart does not shimmer as the window slides.
"""

import dataclasses
import datetime
import math

from django.db import connection

from telemetry.metrics_catalogue import unit_of
from telemetry.models import Reading

ORIGIN = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
MIN_POINTS, MAX_POINTS, DEFAULT_POINTS = 60, 4000, 1000
# Bucket widths, seconds: a chart picks the narrowest one that gives no more buckets than it has pixels.
STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)
HOUR = 3600

RAW, HOURLY = "raw", "hourly"


@dataclasses.dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: datetime.timedelta
    source: str
    refresh_seconds: int  # how often a page showing it asks for new data


RANGES = {
    r.key: r
    for r in (
        Range("6h", "6 h", datetime.timedelta(hours=6), RAW, 30),
        Range("24h", "24 h", datetime.timedelta(hours=24), RAW, 60),
        Range("7d", "7 d", datetime.timedelta(days=7), RAW, 300),
        Range("30d", "30 d", datetime.timedelta(days=30), HOURLY, 900),
        Range("1y", "1 y", datetime.timedelta(days=365), HOURLY, 3600),
    )
}
DEFAULT_RANGE = "24h"

# A gap wider than this (and than two buckets, and than three times the data's usual spacing) between
# buckets with data is drawn as a break in the line: the pump reported nothing then.
GAP = {RAW: datetime.timedelta(minutes=10), HOURLY: datetime.timedelta(hours=2)}

# The colours have at least 3:1 contrast on white (WCAG 1.4.11, graphical objects).
COLOURS = ("#0b5cad", "#b45309", "#7e22ce", "#15803d")
REFERENCE_COLOUR = "#4b5563"


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart: its metrics (``Reading`` fields, of one unit) with labels, and reference lines from the
    well's specification (``(label, Well attribute)``)."""

    key: str
    title: str
    series: tuple
    references: tuple = ()

    @property
    def unit(self):
        """The unit of the chart's metrics, from the metrics catalogue."""
        return unit_of(self.series[0][0])


CHARTS = (
    Chart(
        "motor_current",
        "Motor current (ammeter chart)",
        (("motor_current", "Motor current"),),
        (("Nameplate", "motor_nameplate_current_a"),),
    ),
    Chart(
        "flow",
        "Flow rate",
        (("flow_rate", "Flow"),),
        (("Recommended min", "min_operating_flow_bpd"), ("Recommended max", "max_operating_flow_bpd")),
    ),
    Chart("pip", "Pump intake pressure", (("pip", "PIP"), ("intake_pressure", "Intake gauge"))),
    Chart(
        "pressures",
        "Discharge, tubing and casing pressure",
        (("discharge_pressure", "Discharge"), ("tubing_pressure", "Tubing"), ("casing_pressure", "Casing")),
    ),
    Chart(
        "motor_temp",
        "Motor temperature",
        (("motor_temp", "Motor temperature"),),
        (("Limit", "motor_temp_limit_c"),),
    ),
    Chart("vibration", "Vibration", (("vibration", "Vibration"),), (("Limit", "vibration_limit_mm_s"),)),
)
METRICS = Reading.METRIC_FIELDS

# How each metric is written on the pages: label, decimals; in the order the well page lists them.
# Units come from the metrics catalogue.
METRIC_DISPLAY = {
    "motor_current": ("Motor current", 1),
    "flow_rate": ("Flow", 0),
    "pip": ("Pump intake pressure", 0),
    "intake_pressure": ("Intake gauge", 0),
    "discharge_pressure": ("Discharge pressure", 0),
    "tubing_pressure": ("Tubing pressure", 0),
    "casing_pressure": ("Casing pressure", 0),
    "motor_temp": ("Motor temperature", 1),
    "vibration": ("Vibration", 2),
}


def latest_values(values):
    """The newest reading's ``values`` (by metric) as the well page lists them."""
    return [
        {"metric": metric, "label": label, "unit": unit_of(metric), "decimals": decimals, "value": values.get(metric)}
        for metric, (label, decimals) in METRIC_DISPLAY.items()
    ]


def latest_summary(chart, values):
    """The text alternative of a chart: its series' newest values."""
    parts = []
    for metric, label in chart.series:
        value = values.get(metric)
        _, decimals = METRIC_DISPLAY[metric]
        parts.append(
            f"{label} {value:,.{decimals}f} {unit_of(metric)}" if value is not None else f"{label}: no reading"
        )
    return "Latest: " + "; ".join(parts) + "."


# Mean, lowest and highest reading of every metric per bucket, straight from raw readings: one range
# scan of the primary key (well_id, time).
_RAW_AGGREGATES = ",\n       ".join(f"avg(r.{m}), min(r.{m}), max(r.{m})" for m in METRICS)
RAW_BUCKETS = f"""
SELECT date_bin(%(step)s, r.time, %(origin)s) AS bucket,
       {_RAW_AGGREGATES}
FROM telemetry_reading r
WHERE r.well_id = %(well)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1
ORDER BY 1
"""

# Per metric: the hourly rollup's (mean, lowest, highest) columns. Flow keeps its hourly min and max,
# motor temperature its hourly max; for the rest the band is drawn from hourly means.
HOURLY_COLUMNS = {
    "flow_rate": ("avg_flow_rate", "min_flow_rate", "max_flow_rate"),
    "pip": ("avg_pip", "avg_pip", "avg_pip"),
    "casing_pressure": ("avg_casing_pressure", "avg_casing_pressure", "avg_casing_pressure"),
    "tubing_pressure": ("avg_tubing_pressure", "avg_tubing_pressure", "avg_tubing_pressure"),
    "intake_pressure": ("avg_intake_pressure", "avg_intake_pressure", "avg_intake_pressure"),
    "discharge_pressure": ("avg_discharge_pressure", "avg_discharge_pressure", "avg_discharge_pressure"),
    "motor_current": ("avg_motor_current", "avg_motor_current", "avg_motor_current"),
    "motor_temp": ("avg_motor_temp", "avg_motor_temp", "max_motor_temp"),
    "vibration": ("avg_vibration", "avg_vibration", "avg_vibration"),
}
# Means weighted by each hour's reading count, over the hours where the sensor reported.
_HOURLY_AGGREGATES = ",\n       ".join(
    f"sum(h.{mean} * h.reading_count) / nullif(sum(h.reading_count) FILTER (WHERE h.{mean} IS NOT NULL), 0), "
    f"min(h.{low}), max(h.{high})"
    for mean, low, high in (HOURLY_COLUMNS[m] for m in METRICS)
)
HOURLY_BUCKETS = f"""
SELECT date_bin(%(step)s, h.bucket, %(origin)s) AS bucket,
       {_HOURLY_AGGREGATES}
FROM telemetry_hourly h
WHERE h.well_id = %(well)s AND h.bucket >= %(start)s AND h.bucket < %(end)s
GROUP BY 1
ORDER BY 1
"""


def bucket_seconds(span, points, source):
    """The narrowest width in ``STEPS`` that cuts ``span`` into at most ``points`` buckets (whole hours
    at least, from the hourly rollup)."""
    wanted = span.total_seconds() / points
    floor = HOUR if source == HOURLY else 1
    for step in STEPS:
        if step >= wanted and step >= floor:
            return step
    return math.ceil(wanted / STEPS[-1]) * STEPS[-1]


def gap_seconds(times, source, step):
    """How far apart two buckets with data may be before the line breaks between them: more than two
    buckets, more than ``GAP`` and more than three times the usual spacing of the data (a well reporting
    every 15 minutes is not broken into dots)."""
    spacings = sorted(later - earlier for earlier, later in zip(times, times[1:], strict=False))
    usual = spacings[len(spacings) // 2] if spacings else 0
    return max(GAP[source].total_seconds(), 2 * step, 3 * usual)


def clamp_points(value):
    """The chart width the browser sent, bounded; the default when it sent none or nonsense."""
    try:
        points = int(value)
    except (TypeError, ValueError):
        return DEFAULT_POINTS
    return max(MIN_POINTS, min(MAX_POINTS, points))


def chart_data(well, range_key, points, now):
    """The series of every chart for ``well`` over the ``range_key`` window ending ``now``, at most
    ``points`` buckets: ``{"times": [epoch s…], "metrics": {metric: {"avg", "min", "max"}}, …}``.
    A null value marks a gap (no data for longer than ``gap_seconds``) so the line breaks there; "min" or
    "max" is null instead of a list when it equals "avg" (one hourly mean per bucket). One query."""
    window = RANGES[range_key]
    step = bucket_seconds(window.span, points, window.source)
    end = now
    start = now - window.span
    query = RAW_BUCKETS if window.source == RAW else HOURLY_BUCKETS
    params = {
        "step": datetime.timedelta(seconds=step),
        "origin": ORIGIN,
        "well": well.pk,
        "start": start if window.source == RAW else start.replace(minute=0, second=0, microsecond=0),
        "end": end,
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()

    stamps = [row[0].timestamp() for row in rows]
    gap = gap_seconds(stamps, window.source, step)
    # A row of nulls after each bucket followed by a silence: the line breaks there.
    breaks = [i for i in range(1, len(rows)) if stamps[i] - stamps[i - 1] > gap]
    gap_row = (None,) * (3 * len(METRICS))
    values = [row[1:] for row in rows]
    times = list(stamps)
    for i in reversed(breaks):
        values.insert(i, gap_row)
        times.insert(i, stamps[i - 1] + step)
    columns = [[None if v is None else round(v, 3) for v in column] for column in zip(*values, strict=True)]
    if not columns:
        columns = [[] for _ in range(3 * len(METRICS))]
    metrics = {}
    for i, metric in enumerate(METRICS):
        mean, low, high = columns[3 * i : 3 * i + 3]
        # Null: the same as the mean (one hourly mean per bucket), so it is not sent three times.
        metrics[metric] = {"avg": mean, "min": None if low == mean else low, "max": None if high == mean else high}
    return {
        "well_id": well.well_id,
        "range": window.key,
        "source": window.source,
        "step_seconds": step,
        "start": start.timestamp(),
        "end": end.timestamp(),
        "times": times,
        "metrics": metrics,
    }


def chart_definitions(well):
    """What the browser needs to draw each chart: titles, units, series with colours, reference values."""
    definitions = []
    for chart in CHARTS:
        definitions.append(
            {
                "key": chart.key,
                "title": chart.title,
                "unit": chart.unit,
                "decimals": METRIC_DISPLAY[chart.series[0][0]][1],
                "series": [
                    {"metric": metric, "label": label, "colour": COLOURS[i % len(COLOURS)]}
                    for i, (metric, label) in enumerate(chart.series)
                ],
                "references": [
                    {"label": f"{label} {getattr(well, attribute):g} {chart.unit}", "value": getattr(well, attribute)}
                    for label, attribute in chart.references
                    if getattr(well, attribute) is not None
                ],
                "referenceColour": REFERENCE_COLOUR,
            }
        )
    return definitions
