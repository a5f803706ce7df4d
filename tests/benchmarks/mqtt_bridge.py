"""MQTT bridge throughput: batched writes against one transaction per message, in the same run.

A real Mosquitto from the shipped docker/mosquitto.conf (tests/faults/mqtt.py) and the bridge in this process
(``MqttBridge``, ``start()`` / ``step()`` / ``close()``), signed in as the bridge's user; one device per well
publishes QoS 1 to ``esp/<well_id>/telemetry``.

Two message shapes: SINGLE_MESSAGES messages of one reading, and HUNDRED_MESSAGES messages of 100 readings.
Each is stored twice, with fresh readings each time:
- batched: the bridge as configured (``MQTT_BATCH_MAX_READINGS`` / ``MQTT_BATCH_WAIT_MS``);
- baseline: the same bridge with ``batch_max_readings=1``, so every message is written, committed and
  acknowledged on its own (one transaction per message).
Both get the same Receive Maximum, so only batching differs.

Every message is published, and acknowledged by the broker, while the bridge is subscribed but not
stepping; the clock runs from its first ``step()`` until it has stored and acknowledged every reading.
Messages/s and readings/s are printed. Checked: batching is faster than one transaction per message, and
every published reading is stored exactly once. Run with ``make bench BENCH=tests/benchmarks/mqtt_bridge.py``.
"""

import datetime
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from telemetry.mqtt_bridge import MqttBridge
from tests.factories import WellFactory
from tests.faults.mqtt import BRIDGE_USER, HOST, TOPIC_FILTER, Broker, Device
from tests.telemetry.conftest import reading
from wells.models import Well

WELLS = 10
WELL_IDS = [f"MQB-{n:05d}" for n in range(1, WELLS + 1)]
SINGLE_MESSAGES = 5_000
HUNDRED_MESSAGES = 500
HUNDRED = 100
# The same for both modes: enough in flight for two default batches of single-reading messages.
RECEIVE_MAXIMUM = 10_000
DRAIN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def bench_wells(django_db_setup, django_db_blocker):
    """The benchmark's wells, their readings from earlier runs deleted; {well_id: primary key}."""
    with django_db_blocker.unblock():
        for well_id in WELL_IDS:
            if not Well.objects.filter(well_id=well_id).exists():
                WellFactory(well_id=well_id, install_date=datetime.date(2024, 1, 1))
        wells = {w.well_id: w.pk for w in Well.objects.filter(well_id__in=WELL_IDS)}
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM telemetry_reading WHERE well_id = ANY(%s)", [list(wells.values())])
    return wells


@pytest.fixture(scope="module")
def broker():
    # Under /tmp itself, as the fault tests do: started as root, Mosquitto drops to its own user, which
    # cannot enter pytest's private temporary folders.
    directory = Path(tempfile.mkdtemp(prefix="esp-bench-mqtt-"))
    users = {BRIDGE_USER: uuid.uuid4().hex, **{well_id: uuid.uuid4().hex for well_id in WELL_IDS}}
    broker = Broker(directory, users)
    try:
        broker.start()
        yield broker
    finally:
        broker.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def devices(broker):
    devices = {well_id: Device(broker, well_id) for well_id in WELL_IDS}
    yield devices
    for device in devices.values():
        device.close()


def stored_count(wells, start, end):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT (well_id, time)) FROM telemetry_reading "
            "WHERE well_id = ANY(%s) AND time >= %s AND time < %s",
            [list(wells.values()), start, end],
        )
        return cursor.fetchone()


def run(broker, devices, wells, start, messages, per_message, batch_max_readings):
    """Publish ``messages`` messages of ``per_message`` readings, then time the bridge storing them all."""
    bridge = MqttBridge(
        url=f"mqtt://{BRIDGE_USER}:{broker.users[BRIDGE_USER]}@{HOST}:{broker.port}",
        topic=TOPIC_FILTER,
        shared_group="",
        client_id=f"bench-{uuid.uuid4().hex[:12]}",
        session_expiry_s=300,
        batch_max_readings=batch_max_readings,
        receive_maximum=RECEIVE_MAXIMUM,
        summary_every_s=3600,
    )
    bridge.start()
    try:
        assert bridge.subscribed.wait(30), "the bridge did not subscribe"
        # Each well's readings a second apart from ``start``; the device of message n is well n % WELLS.
        per_well = [0] * WELLS
        for n in range(messages):
            index = n % WELLS
            well_id = WELL_IDS[index]
            times = [start + datetime.timedelta(seconds=per_well[index] + k) for k in range(per_message)]
            per_well[index] += per_message
            body = [reading(well_id, t) for t in times]
            payload = json.dumps(body[0] if per_message == 1 else body)
            devices[well_id].publish(f"esp/{well_id}/telemetry", payload)
        for device in devices.values():
            device.wait_for_answers(timeout=120)
        expected = messages * per_message
        began = time.perf_counter()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while bridge.counters.readings < expected or bridge.unacknowledged:
            assert time.monotonic() < deadline, f"timed out; counters: {bridge.counters}"
            bridge.step(0.05)
        elapsed = time.perf_counter() - began
        counters = bridge.counters
    finally:
        bridge.close()
    end = start + datetime.timedelta(seconds=max(per_well))
    rows, distinct = stored_count(wells, start, end)
    assert counters.received == messages, counters
    assert counters.rejected == 0 and counters.duplicates == 0 and counters.stored == expected, counters
    assert rows == distinct == expected, f"stored {rows} rows ({distinct} distinct) of {expected} readings"
    return {"seconds": elapsed, "messages": messages, "readings": expected, "flushes": counters.flushes}


def test_batching_against_one_transaction_per_message(broker, devices, bench_wells, django_db_blocker):
    # Fresh readings for each run: far enough apart that no two runs share a (well, time).
    base = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=2)
    step = datetime.timedelta(hours=3)
    shapes = [("1 reading", SINGLE_MESSAGES, 1), (f"{HUNDRED} readings", HUNDRED_MESSAGES, HUNDRED)]
    modes = [("batched", None), ("1 tx/message", 1)]
    results = {}
    with django_db_blocker.unblock():
        slot = 0
        for shape, messages, per_message in shapes:
            for mode, batch_max in modes:
                results[shape, mode] = run(
                    broker, devices, bench_wells, base + slot * step, messages, per_message, batch_max
                )
                slot += 1

    print(
        f"\nMQTT bridge: Mosquitto (docker/mosquitto.conf) -> MqttBridge in-process -> PostgreSQL; batched = "
        f"MQTT_BATCH_MAX_READINGS {settings.MQTT_BATCH_MAX_READINGS}, "
        f"MQTT_BATCH_WAIT_MS {settings.MQTT_BATCH_WAIT_MS}; Receive Maximum {RECEIVE_MAXIMUM}"
    )
    print(
        f"{'message':<14}{'mode':<14}{'messages':>10}{'readings':>10}{'flushes':>9}{'s':>8}{'msg/s':>10}{'rdg/s':>10}"
    )
    ratios = {}
    for shape, _, _ in shapes:
        for mode, _ in modes:
            r = results[shape, mode]
            print(
                f"{shape:<14}{mode:<14}{r['messages']:>10,}{r['readings']:>10,}{r['flushes']:>9,}"
                f"{r['seconds']:>8.2f}{r['messages'] / r['seconds']:>10,.0f}{r['readings'] / r['seconds']:>10,.0f}"
            )
        ratios[shape] = results[shape, "1 tx/message"]["seconds"] / results[shape, "batched"]["seconds"]
        print(f"{'':<14}batched / 1 tx per message: {ratios[shape]:.1f}x")
    for shape, ratio in ratios.items():
        assert ratio > 1, f"{shape}: batching is not faster than one transaction per message ({ratio:.2f}x)"
