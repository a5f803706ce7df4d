"""The rollups' columns, written once and used by both backends.

Each constant is a SELECT list over ``telemetry_reading`` (alias ``r``); the bucket and well
columns are added by whoever uses it, because TimescaleDB needs ``time_bucket`` where plain
PostgreSQL uses ``date_trunc``.
"""

# Per well and hour. Column names follow the original platform's continuous aggregate.
HOURLY_AGGREGATES = """
    avg(r.flow_rate) AS avg_flow_rate,
    max(r.flow_rate) AS max_flow_rate,
    min(r.flow_rate) AS min_flow_rate,
    avg(r.pip) AS avg_pip,
    avg(r.casing_pressure) AS avg_casing_pressure,
    avg(r.tubing_pressure) AS avg_tubing_pressure,
    avg(r.motor_current) AS avg_motor_current,
    avg(r.motor_temp) AS avg_motor_temp,
    max(r.motor_temp) AS max_motor_temp,
    avg(r.intake_pressure) AS avg_intake_pressure,
    avg(r.discharge_pressure) AS avg_discharge_pressure,
    avg(r.vibration) AS avg_vibration,
    count(*) AS reading_count,
    min(r.time) AS first_reading,
    max(r.time) AS last_reading
"""

HOURLY_COLUMNS = [
    "avg_flow_rate",
    "max_flow_rate",
    "min_flow_rate",
    "avg_pip",
    "avg_casing_pressure",
    "avg_tubing_pressure",
    "avg_motor_current",
    "avg_motor_temp",
    "max_motor_temp",
    "avg_intake_pressure",
    "avg_discharge_pressure",
    "avg_vibration",
    "reading_count",
    "first_reading",
    "last_reading",
]

# The motor counts as running when it draws at least this current (A). Uptime is the share of a
# day's readings taken with the motor running: it needs no assumption about how often a device
# reports, and a tripped pump still reporting zero current counts as down.
RUNNING_CURRENT_A = 5.0

# Per well and local day.
DAILY_AGGREGATES = f"""
    avg(r.flow_rate) AS avg_flow_rate,
    stddev_samp(r.flow_rate) AS stddev_flow_rate,
    avg(r.pip) AS avg_pip,
    avg(r.motor_current) AS avg_motor_current,
    max(r.motor_current) AS max_motor_current,
    avg(r.motor_temp) AS avg_motor_temp,
    max(r.motor_temp) AS max_motor_temp,
    avg(r.vibration) AS avg_vibration,
    max(r.vibration) AS max_vibration,
    count(*) AS reading_count,
    count(*) FILTER (WHERE r.motor_current >= {RUNNING_CURRENT_A})::float8 / count(*) AS uptime_fraction
"""

DAILY_COLUMNS = [
    "avg_flow_rate",
    "stddev_flow_rate",
    "avg_pip",
    "avg_motor_current",
    "max_motor_current",
    "avg_motor_temp",
    "max_motor_temp",
    "avg_vibration",
    "max_vibration",
    "reading_count",
    "uptime_fraction",
]
