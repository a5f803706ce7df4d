"""Mosquitto and the MQTT bridge as real processes, and devices publishing to them, for the fault, scale-out
and load tests: the broker runs from the shipped docker/mosquitto.conf with only its container paths and
listener rewritten; the bridge is ``manage.py mqtt_ingest`` as deployed.
"""

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.operations.processes import free_port
from tests.telemetry.conftest import reading

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = PROJECT / "docker" / "mosquitto.conf"
SHIPPED_ACL = PROJECT / "docker" / "mosquitto.acl"
HOST = "127.0.0.1"
# The bridge's MQTT user, as docker/mosquitto.acl grants it and docker/compose.yaml's MQTT_URL names it.
BRIDGE_USER = "esp-platform-bridge"
TOPIC_FILTER = "esp/+/telemetry"
# Generous bounds for a loaded 2-core machine; each wait ends as soon as its event happens.
BROKER_START_S = 30
BRIDGE_START_S = 90
STORED_ALL_S = 180


def mosquitto_program(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed; the fault tests need Mosquitto 2.0: apt-get install -y mosquitto")
    return path


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
        # One mosquitto_passwd run hashes the whole file in place (thousands of devices in the load test).
        passwd.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
        subprocess.run([mosquitto_program("mosquitto_passwd"), "-U", passwd], check=True)
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


def test_database_url():
    from tests.operations.processes import database_url

    return database_url()


class BridgeProcess:
    """``manage.py mqtt_ingest`` as deployed: a process of its own, configured by environment variables,
    signing in to the broker as the bridge's user."""

    def __init__(self, broker, database_url=None, environment=None):
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url or test_database_url(),
            "MQTT_URL": f"mqtt://{BRIDGE_USER}:{broker.users[BRIDGE_USER]}@{HOST}:{broker.port}",
            "MQTT_TOPIC": TOPIC_FILTER,
            "MQTT_CLIENT_ID": f"faults-{uuid.uuid4().hex[:12]}",
            "LOG_LEVEL": "info",
            **(environment or {}),
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


def _remaining_length(length):
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _string(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


class AsyncPublisher:
    """One device's MQTT 3.1.1 connection on an asyncio loop, publishing QoS 1: thousands of these share one
    thread where as many paho clients would need a thread each. ``acknowledged`` holds what the broker
    PUBACKed; a lost connection is recorded in ``errors`` (the load and fault tests keep the broker up)."""

    def __init__(self, broker_port, username, password):
        self.port = broker_port
        self.username = username
        self.password = password
        self.pending = {}  # packet id -> (payload key, monotonic send time)
        self.acknowledged = []  # (payload key, seconds from PUBLISH to PUBACK)
        self.errors = []
        self._next_id = 0
        self._writer = None

    async def connect(self):
        reader, self._writer = await asyncio.open_connection(HOST, self.port)
        variable = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 0)  # user, password, clean session
        payload = _string(f"{self.username}-{uuid.uuid4().hex[:8]}") + _string(self.username) + _string(self.password)
        body = variable + payload
        self._writer.write(b"\x10" + _remaining_length(len(body)) + body)
        await self._writer.drain()
        header = await reader.readexactly(4)
        if header[0] != 0x20 or header[3] != 0:
            raise ConnectionError(f"{self.username}: CONNACK {header.hex()}")
        self._reader_task = asyncio.ensure_future(self._read_acknowledgements(reader))

    async def _read_acknowledgements(self, reader):
        try:
            while True:
                kind = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    digit = (await reader.readexactly(1))[0]
                    length += (digit & 0x7F) << shift
                    shift += 7
                    if not digit & 0x80:
                        break
                body = await reader.readexactly(length)
                if kind >> 4 == 4:  # PUBACK
                    key, sent = self.pending.pop(struct.unpack("!H", body[:2])[0])
                    self.acknowledged.append((key, time.monotonic() - sent))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.errors.append(repr(error))

    async def publish(self, topic, payload, key):
        self._next_id = self._next_id % 65_535 + 1
        assert self._next_id not in self.pending, "more than 65,535 messages unacknowledged"
        body = _string(topic) + struct.pack("!H", self._next_id) + payload
        self.pending[self._next_id] = (key, time.monotonic())
        self._writer.write(b"\x32" + _remaining_length(len(body)) + body)
        await self._writer.drain()

    async def close(self):
        if self._writer is not None:
            self._writer.write(b"\xe0\x00")  # DISCONNECT
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
            self._writer.close()
            self._reader_task.cancel()
