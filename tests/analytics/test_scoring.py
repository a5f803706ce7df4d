import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.scoring import (
    DEFAULT_SPECS,
    EFFICIENCY_SQL,
    HEALTH_SQL,
    PumpSpecs,
    efficiency_score,
    health_score,
)

SPECS = PumpSpecs(
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


# Readings are recorded to a few decimals; a denormal current would overflow flow/current in SQL.
finite = st.just(0.0) | st.floats(min_value=0.001, max_value=20_000)
optional = st.none() | finite


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(flow=finite, current=finite, temp=optional, vibration=optional, default_specs=st.booleans())
def test_the_sql_formulas_match_the_python_ones(flow, current, temp, vibration, default_specs):
    specs = DEFAULT_SPECS if default_specs else SPECS
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
