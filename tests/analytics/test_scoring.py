import datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import queries
from analytics.scoring import EFFICIENCY_SQL, HEALTH_SQL, efficiency_score, health_score
from telemetry.ingest import ReadingIn, ingest_readings
from tests.factories import WellFactory

SPECS = SimpleNamespace(
    rated_flow_bpd=1050,
    min_operating_flow_bpd=700,
    max_operating_flow_bpd=1350,
    motor_nameplate_current_a=48,
    motor_temp_limit_c=150,
    vibration_limit_mm_s=7.1,
)


def test_it_gives_a_healthy_pump_full_marks():
    assert health_score(SPECS, avg_motor_current=48, max_motor_temp=95, avg_vibration=1.5) == 100


def test_it_lowers_health_as_the_motor_nears_its_temperature_limit():
    cool = health_score(SPECS, avg_motor_current=48, max_motor_temp=110)
    warm = health_score(SPECS, avg_motor_current=48, max_motor_temp=135)
    hot = health_score(SPECS, avg_motor_current=48, max_motor_temp=160)
    assert cool == 100 > warm > hot == 60


def test_it_lowers_health_for_vibration_and_off_nameplate_current():
    assert health_score(SPECS, avg_motor_current=48, avg_vibration=7.1) == 65
    assert health_score(SPECS, avg_motor_current=24) == 75  # -50 %: a broken shaft or gas lock
    assert health_score(SPECS, avg_motor_current=52) == 100  # within ±10 %


def test_it_never_leaves_0_to_100():
    assert health_score(SPECS, avg_motor_current=500, max_motor_temp=400, avg_vibration=90) == 0


def test_it_scores_efficiency_best_at_the_rated_point():
    rated = efficiency_score(SPECS, avg_flow_rate=1050, avg_motor_current=48)
    edge = efficiency_score(SPECS, avg_flow_rate=1340, avg_motor_current=48)
    below = efficiency_score(SPECS, avg_flow_rate=300, avg_motor_current=48)
    assert rated == 100
    assert rated > edge > below


def test_it_scores_no_flow_as_zero_efficiency():
    assert efficiency_score(SPECS, avg_flow_rate=0, avg_motor_current=30) == 0
    assert efficiency_score(SPECS, avg_flow_rate=0, avg_motor_current=0) == 0


# A second pump, with a different operating envelope, so the deployed view is seen reading each
# well's own specification.
SMALL_PUMP = SimpleNamespace(
    rated_flow_bpd=400,
    min_operating_flow_bpd=250,
    max_operating_flow_bpd=520,
    motor_nameplate_current_a=30,
    motor_temp_limit_c=120,
    vibration_limit_mm_s=4.5,
)

# Readings are recorded to a few decimals; a denormal current would overflow flow/current in SQL.
finite = st.just(0.0) | st.floats(min_value=0.001, max_value=20_000)
optional = st.none() | finite


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(flow=finite, current=finite, temp=optional, vibration=optional, small_pump=st.booleans())
def test_the_sql_formulas_match_the_python_ones(flow, current, temp, vibration, small_pump):
    specs = SMALL_PUMP if small_pump else SPECS
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {HEALTH_SQL}, {EFFICIENCY_SQL}
            FROM (SELECT %s::float8 AS avg_flow_rate, %s::float8 AS avg_motor_current,
                         %s::float8 AS max_motor_temp, %s::float8 AS avg_vibration) AS h,
                 (SELECT %s::float8 AS rated_flow_bpd, %s::float8 AS min_operating_flow_bpd,
                         %s::float8 AS max_operating_flow_bpd, %s::float8 AS motor_nameplate_current_a,
                         %s::float8 AS motor_temp_limit_c, %s::float8 AS vibration_limit_mm_s) AS s
            """,
            [
                flow,
                current,
                temp,
                vibration,
                specs.rated_flow_bpd,
                specs.min_operating_flow_bpd,
                specs.max_operating_flow_bpd,
                specs.motor_nameplate_current_a,
                specs.motor_temp_limit_c,
                specs.vibration_limit_mm_s,
            ],
        )
        sql_health, sql_efficiency = cursor.fetchone()
    expected_health = health_score(specs, avg_motor_current=current, max_motor_temp=temp, avg_vibration=vibration)
    assert sql_health == pytest.approx(expected_health, abs=1e-9)
    assert sql_efficiency == pytest.approx(
        efficiency_score(specs, avg_flow_rate=flow, avg_motor_current=current), abs=1e-9
    )


# (flow bbl/d, current A, motor temperature °C, vibration mm/s) of one hour's single reading: a pump
# at its rated point, running hot, vibrating, off nameplate, starved, over its range, sensors missing.
HOURS = [
    (1050, 48, 95, 1.5),
    (1000, 47, 142, 2.0),
    (980, 46, 100, 6.0),
    (900, 70, 110, 2.5),
    (300, 30, 90, 1.0),
    (1600, 52, 105, 3.0),
    (500, 25, None, None),
    (0, 0, None, 0.2),
]


def _specs_of(well):
    return well  # a Well has the pump's fields the formulas read


@pytest.mark.django_db
def test_the_deployed_view_scores_as_the_python_formulas_do():
    """Reads ``well_performance_hourly`` as migrated in this database, not the code's SQL string."""
    last_hour = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=1)
    wells = [WellFactory(**vars(SPECS)), WellFactory(**vars(SMALL_PUMP))]
    readings = [
        ReadingIn(well_id=well.well_id, timestamp=last_hour - datetime.timedelta(hours=n, minutes=-10),
                  flow_rate=flow, pip=1200.0, motor_current=current, motor_temp=temp, vibration=vibration)
        for well in wells
        for n, (flow, current, temp, vibration) in enumerate(HOURS)
    ]  # fmt: skip
    ingest_readings(readings)
    for well in wells:
        specs = _specs_of(well)
        rows = queries.well_performance(well, last_hour - datetime.timedelta(hours=len(HOURS)), timezone.now())
        assert len(rows) == len(HOURS)
        for row, (flow, current, temp, vibration) in zip(rows, HOURS, strict=True):
            assert row["health_score"] == pytest.approx(
                health_score(specs, avg_motor_current=current, max_motor_temp=temp, avg_vibration=vibration), abs=1e-9
            )
            assert row["efficiency_score"] == pytest.approx(
                efficiency_score(specs, avg_flow_rate=flow, avg_motor_current=current), abs=1e-9
            )
