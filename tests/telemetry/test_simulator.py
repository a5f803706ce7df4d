"""The demo simulator: healthy signals near each pump's specs, faults that move them the way physics does,
readings ingest accepts, repeatable runs, and backfills and live delivery that land in the table."""

import datetime
import io
import json
import math
import statistics
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import DiagnosticType
from telemetry.ingest import parse_payload, validate_readings
from telemetry.models import Reading
from telemetry.simulator import backfill, live, model
from telemetry.simulator import faults as fault_catalogue
from telemetry.simulator.faults import FaultEpisode, OperatingChange
from telemetry.simulator.model import PumpSpec, WellSimulator
from tests.factories import TEST_PASSWORD, UserFactory, WellFactory
from wells.demo import DEMO_WELLS

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
# A quiet moment well after the demo wells' installs and away from a workover anniversary.
T0 = datetime.datetime(2026, 9, 1, 6, 0, tzinfo=datetime.UTC)


def demo_specs():
    specs = []
    for index, row in enumerate(DEMO_WELLS):
        well_id, _, _, _, _, _, stages, rated, _, _, amps = row
        install = datetime.date(2024, 1, 15) + datetime.timedelta(days=29 * index)
        specs.append(PumpSpec(well_id, rated, stages, amps, install_date=install, timezone="Asia/Riyadh"))
    return specs


SPEC = demo_specs()[2]  # WELL-003: 1750 bbl/d rated, 62 A nameplate


def series(spec, start, end, step=MINUTE, faults=(), seed=0, changes=()):
    """{time: metrics dict} every ``step`` over [start, end)."""
    well = WellSimulator(spec, seed=seed, faults=faults, changes=changes)
    readings = {}
    time = start
    while time < end:
        readings[time] = dict(zip(model.METRIC_NAMES, well.metrics_at(time), strict=True))
        time += step
    return readings


def mean(readings, field):
    return statistics.fmean(reading[field] for reading in readings)


def spread(readings, field):
    return statistics.pstdev(reading[field] for reading in readings)


def test_it_runs_each_demo_pump_near_its_own_rated_point():
    for spec, row in zip(demo_specs(), DEMO_WELLS, strict=True):
        day = list(series(spec, T0, T0 + 24 * HOUR, step=5 * MINUTE).values())
        minimum_flow, maximum_flow = row[8], row[9]
        assert minimum_flow <= mean(day, "flow_rate") <= maximum_flow, spec.well_id
        assert 0.75 <= mean(day, "motor_current") / spec.motor_nameplate_current_a <= 1.0, spec.well_id
        head_psi = mean(day, "discharge_pressure") - mean(day, "pip")
        assert 20 <= head_psi / model.FLUID_GRADIENT_PSI_PER_FT / spec.pump_stages <= 30  # feet per stage
        assert all(r["motor_temp"] < spec.motor_temp_limit_c for r in day), spec.well_id
        assert all(r["vibration"] < spec.vibration_limit_mm_s for r in day), spec.well_id
        assert all(r["tubing_pressure"] > 0 and r["casing_pressure"] > 0 for r in day), spec.well_id


def test_it_follows_a_daily_cycle_and_declines_over_weeks():
    week = series(SPEC, T0, T0 + 7 * 24 * HOUR, step=10 * MINUTE)
    riyadh = datetime.timedelta(hours=3)
    afternoons = [r for t, r in week.items() if 13 <= (t + riyadh).hour < 17]
    nights = [r for t, r in week.items() if 1 <= (t + riyadh).hour < 5]
    assert mean(afternoons, "flow_rate") > mean(nights, "flow_rate") * 1.01

    def flow_in_week(start):
        return mean(series(SPEC, start, start + 7 * 24 * HOUR, step=HOUR).values(), "flow_rate")

    anniversary = datetime.datetime(2026, 3, 14, tzinfo=datetime.UTC)  # WELL-003 installed 2024-03-14
    assert flow_in_week(anniversary + 70 * 24 * HOUR) < flow_in_week(anniversary + 24 * HOUR) * 0.99


def test_the_same_seed_gives_the_same_readings_and_another_seed_does_not():
    fault = FaultEpisode(SPEC.well_id, "gas_interference", T0 + HOUR, HOUR)
    first = series(SPEC, T0, T0 + 3 * HOUR, faults=[fault], seed=7)
    assert series(SPEC, T0, T0 + 3 * HOUR, faults=[fault], seed=7) == first
    assert series(SPEC, T0, T0 + 3 * HOUR, faults=[fault], seed=8) != first


def test_every_fault_is_a_diagnosis_the_platform_knows():
    assert set(fault_catalogue.FAULT_KINDS) <= set(DiagnosticType.values)


def fault_run(kind, duration=2 * HOUR, tail=HOUR):
    """(healthy hour before, the episode's last ``tail``, the hour after) for WELL-003 with ``kind``."""
    start = T0 + HOUR
    readings = series(SPEC, T0, start + duration + HOUR, faults=[FaultEpisode(SPEC.well_id, kind, start, duration)])
    before = [r for t, r in readings.items() if t < start]
    during = [r for t, r in readings.items() if start + duration - tail <= t < start + duration]
    after = [r for t, r in readings.items() if start + duration + 30 * MINUTE <= t]
    return before, during, after


NAMEPLATE = SPEC.motor_nameplate_current_a


def test_gas_interference_makes_flow_and_current_erratic_and_pip_fall():
    before, during, _ = fault_run("gas_interference")
    assert spread(during, "flow_rate") > 3 * spread(before, "flow_rate")
    assert spread(during, "motor_current") > 3 * spread(before, "motor_current")
    assert mean(during, "pip") < 0.85 * mean(before, "pip")
    assert mean(during, "casing_pressure") > mean(before, "casing_pressure")


def test_gas_lock_collapses_flow_and_current_and_heats_the_motor():
    before, during, _ = fault_run("gas_lock")
    assert mean(during, "flow_rate") < 0.1 * mean(before, "flow_rate")
    assert mean(during, "motor_current") < 0.6 * NAMEPLATE
    assert mean(during, "motor_temp") > mean(before, "motor_temp") + 10


def test_pump_off_draws_pip_to_near_zero_and_cycles_the_current():
    before, during, _ = fault_run("pump_off")
    assert max(r["pip"] for r in during) < 60
    assert mean(during, "flow_rate") < 0.8 * mean(before, "flow_rate")
    assert mean(during, "motor_current") < mean(before, "motor_current")
    currents = [r["motor_current"] for r in during]
    assert max(currents) - min(currents) > 0.15 * NAMEPLATE


def test_a_broken_shaft_leaves_no_load_current_no_flow_and_rising_pip():
    before, during, after = fault_run("broken_shaft")
    assert all(0.3 * NAMEPLATE <= r["motor_current"] <= 0.4 * NAMEPLATE for r in during)
    assert all(r["flow_rate"] < 0.01 * SPEC.rated_flow_bpd for r in during)
    assert mean(during, "pip") > 1.2 * mean(before, "pip")
    assert mean(after, "motor_current") > 0.75 * NAMEPLATE  # the episode over, the pump is back


def test_a_tubing_leak_lowers_flow_and_pressures_raises_pip_but_not_current():
    before, during, _ = fault_run("tubing_leak")
    assert mean(during, "flow_rate") < 0.8 * mean(before, "flow_rate")
    assert mean(during, "discharge_pressure") < 0.95 * mean(before, "discharge_pressure")
    assert mean(during, "tubing_pressure") < 0.8 * mean(before, "tubing_pressure")
    assert mean(during, "pip") > 1.05 * mean(before, "pip")  # the leaked fluid refills the annulus
    assert mean(during, "motor_current") == pytest.approx(mean(before, "motor_current"), rel=0.05)


def test_a_plugged_intake_raises_pip_but_drops_intake_pressure_flow_and_current_and_warms_the_motor():
    before, during, _ = fault_run("plugged_intake")
    assert mean(during, "pip") > 1.05 * mean(before, "pip")  # less drawdown outside the screen
    assert mean(during, "intake_pressure") < 0.8 * mean(before, "intake_pressure")  # starved inside it
    assert mean(during, "flow_rate") < 0.8 * mean(before, "flow_rate")
    assert mean(during, "motor_current") < 0.95 * mean(before, "motor_current")
    assert mean(during, "motor_temp") > mean(before, "motor_temp") + 2


def test_deadhead_stops_flow_raises_discharge_and_heats_the_motor():
    before, during, _ = fault_run("deadhead")
    assert all(r["flow_rate"] == 0 for r in during)
    assert mean(during, "discharge_pressure") > 1.1 * mean(before, "discharge_pressure")
    assert mean(during, "tubing_pressure") > 2 * mean(before, "tubing_pressure")
    assert 0.5 * NAMEPLATE < mean(during, "motor_current") < 0.7 * NAMEPLATE
    assert mean(during, "motor_temp") > mean(before, "motor_temp") + 20


def test_scale_and_wear_lower_flow_and_raise_current_over_days():
    before, during, _ = fault_run("scale_wear", duration=3 * 24 * HOUR, tail=6 * HOUR)
    assert mean(during, "flow_rate") < 0.85 * mean(before, "flow_rate")
    assert mean(during, "motor_current") > 1.1 * mean(before, "motor_current")
    assert mean(during, "vibration") > mean(before, "vibration") + 1


def test_overload_draws_more_than_115_percent_of_nameplate_and_heats_the_motor():
    before, during, _ = fault_run("overload")
    assert all(r["motor_current"] > 1.15 * NAMEPLATE for r in during)
    assert mean(during, "motor_temp") > mean(before, "motor_temp") + 5


def test_high_motor_temperature_passes_the_limit_at_normal_current():
    before, during, _ = fault_run("high_motor_temp")
    assert all(r["motor_temp"] > SPEC.motor_temp_limit_c for r in during)
    assert mean(during, "motor_current") == pytest.approx(mean(before, "motor_current"), rel=0.05)


def test_high_vibration_passes_the_limit():
    _, during, _ = fault_run("high_vibration")
    assert all(r["vibration"] > SPEC.vibration_limit_mm_s for r in during)


def test_a_power_trip_zeroes_current_and_flow_then_the_pump_restarts():
    before, during, after = fault_run("power_trip")
    assert all(r["motor_current"] == 0 and r["flow_rate"] == 0 for r in during)
    assert mean(during, "pip") > mean(before, "pip")
    assert mean(after, "motor_current") > 0.75 * NAMEPLATE
    assert mean(after, "flow_rate") > 0.8 * mean(before, "flow_rate")


def test_a_stale_sensor_repeats_the_last_reading_exactly():
    start = T0 + HOUR
    fault = FaultEpisode(SPEC.well_id, "stale_sensor", start, HOUR)
    readings = series(SPEC, T0, start + 2 * HOUR, faults=[fault])
    last_fresh = readings[start - MINUTE]
    assert all(readings[start + m * MINUTE] == last_fresh for m in range(60))
    assert readings[start + 61 * MINUTE] != last_fresh


@pytest.mark.django_db
def test_every_reading_passes_ingest_validation_healthy_or_faulty(now):
    well = WellFactory(well_id="WELL-003", install_date=datetime.date(2025, 1, 1), rated_flow_bpd=1750.0)
    start = now - 4 * HOUR
    faults = [
        FaultEpisode(well.well_id, kind, start + index * 13 * MINUTE, 40 * MINUTE)
        for index, kind in enumerate(fault_catalogue.FAULT_KINDS)
    ]
    device = WellSimulator(PumpSpec.of(well), faults=faults)
    payloads = [device.payload_at(start + m * MINUTE) for m in range(4 * 60)]
    readings = parse_payload(json.dumps(payloads).encode(), well_id=well.well_id)
    assert len(validate_readings(readings, now=now)) == len(payloads)


def change_run(kind, ratio=1.0, duration=2 * HOUR):
    """(healthy hour before, the change's last hour, the hour after it) for WELL-003 with one operating change."""
    start = T0 + HOUR
    change = OperatingChange(SPEC.well_id, kind, start, duration, ratio=ratio)
    readings = series(SPEC, T0, start + duration + HOUR, changes=[change])
    before = [r for t, r in readings.items() if t < start]
    during = [r for t, r in readings.items() if start + duration - HOUR <= t < start + duration]
    after = [r for t, r in readings.items() if start + duration + 30 * MINUTE <= t]
    return before, during, after


def test_operating_changes_are_not_faults():
    assert not set(fault_catalogue.OPERATING_CHANGES) & set(DiagnosticType.values)
    with pytest.raises(ValueError, match="unknown operating change"):
        OperatingChange(SPEC.well_id, "gas_lock", T0, HOUR)
    with pytest.raises(ValueError, match="overlap"):
        WellSimulator(
            SPEC,
            changes=[
                OperatingChange(SPEC.well_id, "choke_change", T0, 2 * HOUR, ratio=1.2),
                OperatingChange(SPEC.well_id, "choke_change", T0 + HOUR, 2 * HOUR, ratio=0.8),
            ],
        )


def test_a_setpoint_ten_percent_down_lowers_flow_about_ten_percent_and_current_noticeably():
    before, during, after = change_run("setpoint_change", ratio=0.9)
    assert mean(during, "flow_rate") / mean(before, "flow_rate") == pytest.approx(0.9, abs=0.02)
    assert mean(during, "motor_current") < 0.92 * mean(before, "motor_current")
    head_before = mean(before, "discharge_pressure") - mean(before, "pip")
    head_during = mean(during, "discharge_pressure") - mean(during, "pip")
    assert head_during / head_before == pytest.approx(0.81, abs=0.03)  # head ~ f^2 at the same point of the curve
    assert mean(during, "pip") > mean(before, "pip")  # less drawdown
    assert mean(after, "flow_rate") == pytest.approx(mean(before, "flow_rate"), rel=0.03)  # set back


def test_a_setpoint_up_raises_flow_and_current():
    before, during, _ = change_run("setpoint_change", ratio=1.05)
    assert mean(during, "flow_rate") / mean(before, "flow_rate") == pytest.approx(1.05, abs=0.02)
    assert mean(during, "motor_current") > 1.04 * mean(before, "motor_current")
    assert all(r["motor_current"] < SPEC.motor_nameplate_current_a for r in during)


def test_closing_the_choke_lowers_flow_and_current_and_raises_tubing_pressure_and_pip():
    before, during, _ = change_run("choke_change", ratio=0.6)
    assert mean(during, "flow_rate") < 0.97 * mean(before, "flow_rate")
    assert mean(during, "tubing_pressure") > 1.2 * mean(before, "tubing_pressure")
    assert mean(during, "discharge_pressure") > mean(before, "discharge_pressure")
    assert mean(during, "pip") > mean(before, "pip")
    assert mean(during, "motor_current") < mean(before, "motor_current")


def test_opening_the_choke_raises_flow_and_current_and_lowers_tubing_pressure_and_pip():
    before, during, _ = change_run("choke_change", ratio=1.5)
    assert mean(during, "flow_rate") > 1.01 * mean(before, "flow_rate")
    assert mean(during, "tubing_pressure") < 0.9 * mean(before, "tubing_pressure")
    assert mean(during, "pip") < mean(before, "pip")
    assert mean(during, "motor_current") > mean(before, "motor_current")


def test_the_choke_matters_more_to_a_low_head_pump():
    # The same well (same draws of drawdown, choke and flowline) with a short and a tall pump.
    low_head = WellSimulator(PumpSpec("WELL-X", 2000, 70, 60.0))
    high_head = WellSimulator(PumpSpec("WELL-X", 2000, 390, 60.0))
    for well in (low_head, high_head):
        assert well.choke_flow_ratio(1.0) == pytest.approx(1.0)
        assert well.choke_flow_ratio(0.5) < 1.0 < well.choke_flow_ratio(2.0)
    assert low_head.choke_flow_ratio(0.5) < high_head.choke_flow_ratio(0.5) - 0.05
    assert low_head.choke_flow_ratio(2.0) > high_head.choke_flow_ratio(2.0) + 0.05


def test_a_shut_in_stops_the_pump_and_it_restarts_when_it_ends():
    before, during, after = change_run("shut_in", duration=4 * HOUR)
    assert all(r["motor_current"] == 0 and r["flow_rate"] == 0 for r in during)
    assert mean(during, "pip") > mean(before, "pip")
    assert mean(during, "motor_temp") < mean(before, "motor_temp") - 10
    assert mean(after, "motor_current") > 0.75 * NAMEPLATE
    assert mean(after, "flow_rate") > 0.8 * mean(before, "flow_rate")


def test_it_parses_fault_specifications():
    now = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.UTC)
    fault = fault_catalogue.parse_fault("WELL-003:gas_lock:+10m:30m", now)
    assert (fault.well_id, fault.kind, fault.start, fault.duration) == (
        "WELL-003",
        "gas_lock",
        now + 10 * MINUTE,
        30 * MINUTE,
    )
    iso = fault_catalogue.parse_fault("WELL-007:overload:2026-01-30T06:00:00+03:00:1d12h", now)
    assert (iso.start, iso.duration) == (datetime.datetime(2026, 1, 30, 3, tzinfo=datetime.UTC), 36 * HOUR)
    assert fault_catalogue.parse_fault("WELL-001:stale_sensor:-2d:90s", now).start == now - 48 * HOUR
    for wrong in ("WELL-003:gas:+1m:1m", "WELL-003:gas_lock:+1m", "WELL-003:gas_lock:tomorrow:1h", "W:gas_lock:+1m:0s"):
        with pytest.raises(ValueError):
            fault_catalogue.parse_fault(wrong, now)
    with pytest.raises(ValueError, match="time zone"):
        fault_catalogue.parse_fault("WELL-003:gas_lock:2026-01-30T06:00:00:1h", now)


def test_demo_faults_land_on_demo_wells_or_the_first_others_minutes_from_now():
    now = T0
    on_demo = fault_catalogue.demo_faults(now, [row[0] for row in DEMO_WELLS])
    assert [(f.well_id, f.kind) for f in on_demo] == [
        ("WELL-003", "gas_lock"),
        ("WELL-007", "broken_shaft"),
        ("WELL-009", "overload"),
    ]
    assert all(now < f.start <= now + 10 * MINUTE for f in on_demo)
    elsewhere = fault_catalogue.demo_faults(now, ["RYD-001", "RYD-002"])
    assert [f.well_id for f in elsewhere] == ["RYD-001", "RYD-002"]


def test_the_second_process_generates_exactly_the_rows_this_one_would():
    specs = demo_specs()[:3]
    start = T0.timestamp()
    plan = backfill._BackfillPlan(
        specs=specs,
        well_pks=[1, 2, 3],
        first_epochs=[0, 0, start + 3600],  # the third well "installed" an hour in
        faults=(FaultEpisode("WELL-002", "pump_off", T0 + HOUR, HOUR),),
        seed=3,
        start_epoch=start,
        end_epoch=start + 6 * 3600,
        interval_s=60,
        chunk_size=250,
    )
    here = [row for chunk in plan.chunks() for row in chunk]
    there = [row for chunk in backfill._chunks_from_another_process(plan) for row in chunk]
    assert there == here
    assert len(here) == 360 * 2 + 300


@pytest.mark.django_db
def test_a_backfill_writes_every_reading_once_from_each_wells_install_date(now):
    old = WellFactory(well_id="WELL-001", install_date=datetime.date(2025, 1, 1))
    # Installed yesterday (well-local date): only readings from its install midnight on are valid.
    yesterday = (now + datetime.timedelta(hours=3)).date() - datetime.timedelta(days=1)
    new = WellFactory(well_id="WELL-002", install_date=yesterday)
    start, end = now - 2 * 24 * HOUR, now - MINUTE
    interval = 300

    written = backfill.backfill([old, new], start, end, interval, seed=1)

    def times_every_interval(first, last):
        """How many whole multiples of ``interval`` seconds fall in [first, last)."""
        return len(range(math.ceil(first.timestamp() / interval), math.ceil(last.timestamp() / interval)))

    new_from = PumpSpec.of(new).first_valid_time()
    assert Reading.objects.filter(well=old).count() == times_every_interval(start, end)
    assert Reading.objects.filter(well=new).count() == times_every_interval(new_from, end)
    assert not Reading.objects.filter(well=new, time__lt=new_from).exists()
    assert written == Reading.objects.count()
    assert backfill.backfill([old, new], start, end, interval, seed=1) == 0  # all duplicates now


@pytest.mark.django_db
def test_the_command_backfills_and_reports_its_throughput(well):
    out = io.StringIO()
    call_command("simulate", "--backfill-days", "0.5", "--wells", "WELL-001", "--interval", "120", stdout=out)
    assert Reading.objects.count() == 360
    assert "360 readings (360 new, 0 already stored)" in out.getvalue()
    assert "readings/s" in out.getvalue()
    with pytest.raises(CommandError, match="WELL-404"):
        call_command("simulate", "--backfill-days", "1", "--wells", "WELL-404")
    with pytest.raises(CommandError, match="not simulated"):
        call_command("simulate", "--backfill-days", "1", "--wells", "WELL-001", "--fault", "WELL-002:gas_lock:-1h:1h")


def test_live_readings_go_out_over_mqtt_to_each_wells_topic():
    prefix = f"test-sim-{uuid.uuid4().hex[:10]}"
    received = []
    arrived = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    listener.on_subscribe = lambda *args: subscribed.set()

    def on_message(client, userdata, message):
        received.append((message.topic, message.payload))
        if len(received) == 4:
            arrived.set()

    listener.on_message = on_message
    listener.connect("127.0.0.1", 1883)
    listener.subscribe(f"{prefix}/+/telemetry", qos=1)
    listener.loop_start()
    try:
        assert subscribed.wait(5)
        wells = [WellSimulator(spec) for spec in demo_specs()[:2]]
        delivery = live.MqttDelivery("mqtt://127.0.0.1:1883", f"{prefix}/+/telemetry")
        rounds = live.run_live(wells, delivery, interval_s=1, ticks=2, say=lambda line: None)
        delivery.close()
        assert rounds == 2
        assert arrived.wait(5)
    finally:
        listener.disconnect()
        listener.loop_stop()
    topics = sorted(topic for topic, _ in received)
    assert topics == [f"{prefix}/WELL-001/telemetry"] * 2 + [f"{prefix}/WELL-002/telemetry"] * 2
    for topic, payload in received:
        well_id = topic.split("/")[1]
        (reading,) = parse_payload(payload, well_id=well_id)
        assert reading.well_id == well_id and reading.flow_rate > 0


@pytest.mark.django_db(transaction=True)
def test_live_readings_posted_over_http_are_stored(live_server):
    UserFactory(username="scada_gateway", role="operator")
    well = WellFactory(well_id="WELL-001")
    delivery = live.HttpDelivery(live_server.url, "scada_gateway", TEST_PASSWORD)
    said = []
    live.run_live([WellSimulator(PumpSpec.of(well))], delivery, interval_s=1, ticks=2, say=said.append)
    assert Reading.objects.filter(well=well).count() == 2
    assert any("1 inserted" in line for line in said), said
