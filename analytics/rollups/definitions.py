"""The rollups' columns, written once: name, aggregate over the readings, type, and how hours fold.

Everything that lists a rollup's columns reads them from here: the SELECT lists below (over
``telemetry_reading`` aliased ``r``), the PostgreSQL rollup tables and pending-bucket functions,
the API queries and the tests. The bucket and well columns are added by whoever uses a list,
because TimescaleDB needs ``time_bucket`` where plain PostgreSQL uses ``date_trunc``.

Migrations hold literal copies of the SQL built from these; ``analytics.checks`` tells when the
database and this module disagree.
"""

from dataclasses import dataclass

# The motor counts as running when it draws at least this current (A). Uptime is the share of a
# day's readings taken with the motor running: it needs no assumption about how often a device
# reports, and a tripped pump still reporting zero current counts as down.
RUNNING_CURRENT_A = 5.0


@dataclass(frozen=True)
class Column:
    name: str
    aggregate: str  # over telemetry_reading r
    sql_type: str = "double precision"
    # How hourly rows fold into coarser buckets (hourly columns only): "weighted" (mean weighted by
    # reading_count), "max", "min" or "sum".
    fold: str = "weighted"


# Per well and UTC hour. Column names follow the original platform's continuous aggregate.
HOURLY_ROLLUP = (
    Column("avg_flow_rate", "avg(r.flow_rate)"),
    Column("max_flow_rate", "max(r.flow_rate)", fold="max"),
    Column("min_flow_rate", "min(r.flow_rate)", fold="min"),
    Column("avg_pip", "avg(r.pip)"),
    Column("avg_casing_pressure", "avg(r.casing_pressure)"),
    Column("avg_tubing_pressure", "avg(r.tubing_pressure)"),
    Column("avg_motor_current", "avg(r.motor_current)"),
    Column("avg_motor_temp", "avg(r.motor_temp)"),
    Column("max_motor_temp", "max(r.motor_temp)", fold="max"),
    Column("avg_intake_pressure", "avg(r.intake_pressure)"),
    Column("avg_discharge_pressure", "avg(r.discharge_pressure)"),
    Column("avg_vibration", "avg(r.vibration)"),
    Column("reading_count", "count(*)", "bigint", fold="sum"),
    Column("first_reading", "min(r.time)", "timestamptz", fold="min"),
    Column("last_reading", "max(r.time)", "timestamptz", fold="max"),
)

# Per well and local day of the database's analytics_timezone().
DAILY_ROLLUP = (
    Column("avg_flow_rate", "avg(r.flow_rate)"),
    Column("stddev_flow_rate", "stddev_samp(r.flow_rate)"),
    Column("avg_pip", "avg(r.pip)"),
    Column("avg_motor_current", "avg(r.motor_current)"),
    Column("max_motor_current", "max(r.motor_current)"),
    Column("avg_motor_temp", "avg(r.motor_temp)"),
    Column("max_motor_temp", "max(r.motor_temp)"),
    Column("avg_vibration", "avg(r.vibration)"),
    Column("max_vibration", "max(r.vibration)"),
    Column("reading_count", "count(*)", "bigint"),
    Column("uptime_fraction", f"count(*) FILTER (WHERE r.motor_current >= {RUNNING_CURRENT_A})::float8 / count(*)"),
)

HOURLY_COLUMNS = [column.name for column in HOURLY_ROLLUP]
DAILY_COLUMNS = [column.name for column in DAILY_ROLLUP]


def select_list(columns, alias=""):
    """``a, b, c`` — the columns' names, each prefixed with ``alias.`` when given."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + column.name for column in columns)


def aggregates(columns):
    """The SELECT list computing ``columns`` from readings ``r``, one ``aggregate AS name`` a line."""
    return ",\n    ".join(f"{column.aggregate} AS {column.name}" for column in columns)


def typed(columns):
    """``name type, …`` for a table's or a function's RETURNS TABLE column list."""
    return ", ".join(f"{column.name} {column.sql_type}" for column in columns)


_FOLDS = {
    "weighted": "sum({name} * reading_count) / sum(reading_count)",
    "max": "max({name})",
    "min": "min({name})",
    "sum": "sum({name})",
}


def folded(columns):
    """The SELECT list folding hourly rows of ``columns`` into one row per coarser bucket.

    Weighted means are exact for the always-reported flow, intake pressure and current; for optional
    sensors they assume the sensor reported with every reading.
    """
    return ",\n    ".join(f"{_FOLDS[column.fold].format(name=column.name)} AS {column.name}" for column in columns)


HOURLY_AGGREGATES = aggregates(HOURLY_ROLLUP)
DAILY_AGGREGATES = aggregates(DAILY_ROLLUP)
