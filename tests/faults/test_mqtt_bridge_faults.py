"""The MQTT bridge behind the broker configuration the project ships (docker/mosquitto.conf), under faults:
the bridge SIGKILLed in the middle of a stream of QoS 1 messages, the broker restarted while a backlog is
queued for the bridge, and publishers the broker must refuse. Every reading the broker acknowledged
(PUBACK) to the device must end up in the table exactly once.

Each test runs its own Mosquitto on a free loopback port from the shipped file, with only the container
paths and the listener rewritten, and ``manage.py mqtt_ingest`` as a process of its own, as deployed.
Part of ``make test``: about 12 s on an idle 2-core machine, a minute when both cores are busy (the
waits end on events, under generous deadlines). Alone: ``make test PYTEST_ARGS=tests/faults``.
"""

import datetime
import json
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from django.db import connection

from telemetry.models import Reading
from tests.faults.mqtt import (
    BRIDGE_START_S,
    BRIDGE_USER,
    HOST,
    STORED_ALL_S,
    TOPIC_FILTER,
    BridgeProcess,
    Broker,
    Device,
)
from tests.telemetry.conftest import reading, stored_readings

MESSAGES = 5_000


class CommittedReadings:
    """The readings table as a database session of the test's own sees it: only what the bridge committed."""

    def __init__(self):
        settings = connection.settings_dict
        self.connection = psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            host=settings["HOST"],
            port=settings["PORT"],
        )
        self.connection.autocommit = True

    def counts(self):
        """(rows, distinct (well, time) pairs)."""
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), count(DISTINCT (well_id, time)) FROM {Reading._meta.db_table}")
            return cursor.fetchone()

    def wait_for(self, condition, timeout, bridge):
        """Poll until ``condition(rows)`` holds; returns the row count then."""
        deadline = time.monotonic() + timeout
        while not condition(rows := self.counts()[0]):
            assert bridge.process.poll() is None, f"the bridge died:\n{bridge.log()}"
            assert time.monotonic() < deadline, f"{rows} readings committed after {timeout} s:\n{bridge.log()}"
            time.sleep(0.05)
        return rows


@pytest.fixture
def broker():
    # Not pytest's tmp_path: as root, Mosquitto runs as its own user, which cannot enter pytest's folders.
    directory = Path(tempfile.mkdtemp(prefix="esp-mqtt-faults-"))
    users = {name: secrets.token_urlsafe(16) for name in (BRIDGE_USER, "WELL-001", "WELL-002")}
    running = Broker(directory, users)
    try:
        running.start()
        yield running
    finally:
        running.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def bridge(broker):
    command = BridgeProcess(broker)
    yield command
    if command.process is not None and command.process.poll() is None:
        command.process.kill()
        command.process.wait(timeout=30)


@pytest.fixture
def committed(db):
    table = CommittedReadings()
    yield table
    table.connection.close()


def reading_times():
    """``MESSAGES`` distinct reading times, one a second, the newest a second ago (UTC, whole seconds)."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return [now - datetime.timedelta(seconds=s) for s in range(1, MESSAGES + 1)]


def assert_stored_exactly_once(acknowledged, committed, broker):
    assert len(acknowledged) == MESSAGES  # the broker was up and took every message
    assert committed.counts() == (MESSAGES, MESSAGES)
    assert set(stored_readings()) == {("WELL-001", reading_time) for reading_time in acknowledged}
    assert "dropped" not in broker.log()


def publish_with_the_bridge_killed_midway(broker, bridge, committed):
    """Publish ``MESSAGES`` readings as WELL-001: half while the bridge runs, SIGKILL it as soon as it has
    committed some of them, the rest while it is dead. Returns the reading times the broker acknowledged."""
    times = reading_times()
    bridge.start()
    device = Device(broker, "WELL-001")
    device.publish_readings(times[: MESSAGES // 2])
    at_kill = committed.wait_for(lambda rows: rows > 0, BRIDGE_START_S, bridge)
    bridge.kill()
    device.publish_readings(times[MESSAGES // 2 :])  # the broker queues them for the bridge's session
    device.wait_for_answers()
    device.close()
    assert 0 < at_kill <= committed.counts()[0] < MESSAGES
    return device.acknowledged()


@pytest.mark.django_db(transaction=True)
def test_a_bridge_killed_mid_stream_stores_every_acknowledged_reading_once_after_restart(
    broker, bridge, committed, well, outcome
):
    acknowledged = publish_with_the_bridge_killed_midway(broker, bridge, committed)

    restarted = time.monotonic()
    bridge.start()
    committed.wait_for(lambda rows: rows >= len(acknowledged), STORED_ALL_S, bridge)
    caught_up = time.monotonic() - restarted
    bridge.stop()
    broker.stop()
    assert_stored_exactly_once(acknowledged, committed, broker)
    outcome(
        fault="the bridge SIGKILLed mid-stream, devices publishing on, then restarted",
        acknowledged=len(acknowledged),
        stored=committed.counts()[0],
        duplicates=0,
        all_stored_s_after_restart=round(caught_up, 2),
    )


@pytest.mark.django_db(transaction=True)
def test_a_backlog_queued_for_a_dead_bridge_survives_a_broker_restart(broker, bridge, committed, well, outcome):
    acknowledged = publish_with_the_bridge_killed_midway(broker, bridge, committed)

    stopping = time.monotonic()
    broker.stop()  # SIGTERM, with the backlog and the bridge's unacknowledged messages in its session
    broker.start()  # from the same configuration and persistence folder
    restarted = time.monotonic()
    bridge.start()
    committed.wait_for(lambda rows: rows >= len(acknowledged), STORED_ALL_S, bridge)
    caught_up = time.monotonic() - restarted
    bridge.stop()
    broker.stop()
    assert_stored_exactly_once(acknowledged, committed, broker)
    outcome(
        fault="the broker restarted (SIGTERM, start) with a backlog queued for a dead bridge",
        broker_restart_s=round(restarted - stopping, 2),
        acknowledged=len(acknowledged),
        stored=committed.counts()[0],
        duplicates=0,
        all_stored_s_after_broker_restart=round(caught_up, 2),
    )


def connect_answer(broker, username=None, password=None):
    """The reason code of the broker's CONNACK to a client signing in with these credentials."""
    answers = []
    answered = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"faults-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(client, userdata, flags, reason_code, properties):
        answers.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    client.connect(HOST, broker.port)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK"
        return answers[0]
    finally:
        client.disconnect()
        client.loop_stop()


def test_it_refuses_anonymous_clients_and_wrong_passwords(broker):
    assert connect_answer(broker) == "Not authorized"
    assert connect_answer(broker, "WELL-001", "not-its-password").is_failure
    assert not connect_answer(broker, "WELL-001", broker.users["WELL-001"]).is_failure


def test_a_device_can_neither_publish_for_another_well_nor_read_telemetry(broker):
    delivered = []  # to a client signed in as the bridge
    marker_arrived = threading.Event()
    subscribed = threading.Event()
    reader = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"faults-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    reader.username_pw_set(BRIDGE_USER, broker.users[BRIDGE_USER])
    reader.on_connect = lambda client, userdata, flags, reason_code, properties: client.subscribe(TOPIC_FILTER, 1)
    reader.on_subscribe = lambda *args: subscribed.set()

    def on_message(client, userdata, message):
        delivered.append((message.topic, message.payload))
        if message.payload == b"marker":
            marker_arrived.set()

    reader.on_message = on_message
    reader.connect(HOST, broker.port)
    reader.loop_start()
    device = Device(broker, "WELL-001")
    try:
        assert subscribed.wait(10)
        device.subscribe(TOPIC_FILTER)  # Mosquitto 2.0 grants the subscription, then delivers nothing on it
        forged = device.publish("esp/WELL-002/telemetry", json.dumps(reading("WELL-002")))
        marker = device.publish("esp/WELL-001/telemetry", b"marker")
        # Mosquitto passes one client's messages on in order, and writes a message to each subscriber before
        # acknowledging it on the same connection: once the marker is in and acknowledged, the forged message
        # (to the reader) and the device's own copy of the marker would have arrived before.
        assert marker_arrived.wait(10)
        device.wait_for_answers()
    finally:
        device.close()
        reader.disconnect()
        reader.loop_stop()
    assert delivered == [("esp/WELL-001/telemetry", b"marker")]
    assert device.answers[forged.mid] == "Not authorized"
    assert not device.answers[marker.mid].is_failure
    assert device.received == []
