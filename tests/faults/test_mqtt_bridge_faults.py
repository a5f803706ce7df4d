"""The MQTT bridge behind the broker configuration the project ships (docker/mosquitto.conf), under faults:
the bridge SIGKILLed in the middle of a stream of QoS 1 messages, the broker restarted while a backlog is
queued for the bridge, and publishers the broker must refuse. Every reading the broker acknowledged
(PUBACK) to the device must end up in the table exactly once.

Each test runs its own Mosquitto on a free loopback port from the shipped file, with only the container
paths and the listener rewritten, and ``manage.py mqtt_ingest`` as a process of its own, as deployed.
Part of ``make test``: about 12 s on an idle 2-core machine, a minute when both cores are busy (the
waits end on events, under generous deadlines). Alone: ``make test PYTEST_ARGS=tests/faults``.
"""

import contextlib
import datetime
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
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
from tests.telemetry.conftest import reading, stored_readings

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = PROJECT / "docker" / "mosquitto.conf"
SHIPPED_ACL = PROJECT / "docker" / "mosquitto.acl"
HOST = "127.0.0.1"
# The bridge's MQTT user, as docker/mosquitto.acl grants it and docker/compose.yaml's MQTT_URL names it.
BRIDGE_USER = "esp-platform-bridge"
TOPIC_FILTER = "esp/+/telemetry"
MESSAGES = 5_000
# Generous bounds for a loaded 2-core machine; each wait ends as soon as its event happens.
BROKER_START_S = 30
BRIDGE_START_S = 90
STORED_ALL_S = 180


def mosquitto_program(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed; the fault tests need Mosquitto 2.0: apt-get install -y mosquitto")
    return path


def free_port():
    with socket.create_server((HOST, 0)) as probe:
        return probe.getsockname()[1]


def shipped_config_for(directory, port):
    """docker/mosquitto.conf as shipped, its container paths pointing into ``directory``, listening on ``port``."""
    rewrites = {
        "listener": f"{port} {HOST}",
        "persistence_location": f"{directory / 'data'}/",
        "password_file": str(directory / "passwd"),
        "acl_file": str(directory / "mosquitto.acl"),
    }
    lines, rewritten = [], []
    for line in SHIPPED_CONFIG.read_text().splitlines():
        words = line.split(maxsplit=1)
        if words and words[0] in rewrites:
            rewritten.append(words[0])
            line = f"{words[0]} {rewrites[words[0]]}"
        elif words and not words[0].startswith("#"):
            assert "/mosquitto/" not in line, f"a container path the test does not know how to rewrite: {line}"
        lines.append(line)
    assert sorted(rewritten) == sorted(rewrites), f"{SHIPPED_CONFIG} should set each of {sorted(rewrites)} once"
    return "\n".join(lines) + "\n"


class Broker:
    """Mosquitto run from the shipped configuration, with its persistence, password and ACL files in
    ``directory``; ``users`` maps each MQTT user to its password."""

    def __init__(self, directory, users):
        self.directory = directory
        self.port = free_port()
        self.users = users
        (directory / "data").mkdir()
        (directory / "mosquitto.conf").write_text(shipped_config_for(directory, self.port))
        shutil.copyfile(SHIPPED_ACL, directory / "mosquitto.acl")
        passwd = directory / "passwd"
        passwd.touch(mode=0o600)
        for user, password in users.items():
            subprocess.run([mosquitto_program("mosquitto_passwd"), "-b", passwd, user, password], check=True)
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to its own user before it reads these files and the data folder.
            owner = pwd.getpwnam("mosquitto")
            for path in (directory, *directory.rglob("*")):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.process = None

    @property
    def log_path(self):
        return self.directory / "mosquitto.log"

    def start(self):
        """Start and wait until it accepts connections."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [mosquitto_program("mosquitto"), "-c", self.directory / "mosquitto.conf"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + BROKER_START_S
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"Mosquitto exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=1):
                return
            assert time.monotonic() < deadline, f"Mosquitto does not listen on {self.port}:\n{self.log()}"
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, as `docker compose stop` does: the broker saves its in-memory database and exits."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=120) == 0, self.log()

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def log(self):
        """What the broker logged (Mosquitto 2.0.11 block-buffers it: complete once it has stopped)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class BridgeProcess:
    """``manage.py mqtt_ingest`` as deployed: a process of its own, configured by environment variables,
    signing in to the broker as the bridge's user."""

    def __init__(self, broker):
        settings = connection.settings_dict
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        self.env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
            ),
            "MQTT_URL": f"mqtt://{BRIDGE_USER}:{broker.users[BRIDGE_USER]}@{HOST}:{broker.port}",
            "MQTT_TOPIC": TOPIC_FILTER,
            "MQTT_CLIENT_ID": f"faults-{uuid.uuid4().hex[:12]}",
            "LOG_LEVEL": "info",
        }
        self.process = None
        self.output = []

    def start(self):
        """Start and wait for the line saying it has subscribed to the topic."""
        subscribed = threading.Event()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "mqtt_ingest"],
            cwd=PROJECT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def read_output():
            for line in process.stdout:
                self.output.append(line)
                if "subscribed to" in line:
                    subscribed.set()

        threading.Thread(target=read_output, daemon=True).start()
        self.process = process
        if not subscribed.wait(BRIDGE_START_S):
            pytest.fail(f"the bridge did not subscribe within {BRIDGE_START_S} s:\n{self.log()}")

    def kill(self):
        """SIGKILL: no flush, no acknowledgement, no goodbye to the broker."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0, self.log()

    def log(self):
        return "".join(self.output)


class Device:
    """A pump controller: publishes QoS 1 readings as its own MQTT user, and remembers which messages the
    broker acknowledged with a success reason code (from then on the device forgets them)."""

    def __init__(self, broker, well_id):
        self.well_id = well_id
        self.sent = {}  # mid -> the reading's time (or None for other payloads)
        self.answers = {}  # mid -> the PUBACK's reason code
        self.received = []  # (topic, payload) of messages the broker delivered to it
        self._answered = threading.Condition()
        self._subscribed = threading.Event()
        connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{well_id}-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(well_id, broker.users[well_id])
        self.client.on_connect = lambda client, userdata, flags, reason_code, properties: connected.set()
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = lambda client, userdata, message: self.received.append(
            (message.topic, message.payload)
        )
        self.client.connect(HOST, broker.port)
        self.client.loop_start()
        assert connected.wait(10) and self.client.is_connected(), f"{well_id} could not connect"

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._answered:
            self.answers[mid] = reason_code
            self._answered.notify_all()

    def subscribe(self, topic_filter):
        self.client.subscribe(topic_filter, qos=1)
        assert self._subscribed.wait(10), "no SUBACK"

    def publish(self, topic, payload, reading_time=None):
        info = self.client.publish(topic, payload, qos=1)
        assert info.mid not in self.sent, "message ids repeat after 65,535: publish fewer from one Device"
        self.sent[info.mid] = reading_time
        return info

    def publish_readings(self, times):
        for reading_time in times:
            body = json.dumps(reading(self.well_id, reading_time))
            self.publish(f"esp/{self.well_id}/telemetry", body, reading_time)

    def wait_for_answers(self, timeout=60):
        with self._answered:
            assert self._answered.wait_for(lambda: self.answers.keys() >= self.sent.keys(), timeout), (
                f"the broker answered {len(self.answers)} of {len(self.sent)} messages"
            )

    def acknowledged(self):
        """Times of the readings the broker took responsibility for."""
        return {self.sent[mid] for mid, code in self.answers.items() if not code.is_failure and self.sent[mid]}

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


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
    broker, bridge, committed, well
):
    acknowledged = publish_with_the_bridge_killed_midway(broker, bridge, committed)

    bridge.start()
    committed.wait_for(lambda rows: rows >= len(acknowledged), STORED_ALL_S, bridge)
    bridge.stop()
    broker.stop()
    assert_stored_exactly_once(acknowledged, committed, broker)


@pytest.mark.django_db(transaction=True)
def test_a_backlog_queued_for_a_dead_bridge_survives_a_broker_restart(broker, bridge, committed, well):
    acknowledged = publish_with_the_bridge_killed_midway(broker, bridge, committed)

    broker.stop()  # SIGTERM, with the backlog and the bridge's unacknowledged messages in its session
    broker.start()  # from the same configuration and persistence folder
    bridge.start()
    committed.wait_for(lambda rows: rows >= len(acknowledged), STORED_ALL_S, bridge)
    bridge.stop()
    broker.stop()
    assert_stored_exactly_once(acknowledged, committed, broker)


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
