"""The MQTT bridge against the real Mosquitto and PostgreSQL: every message the broker hands over ends up
in the table exactly once or is refused with a logged reason, and nothing is acknowledged before commit."""

import contextlib
import datetime
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from django.db import OperationalError, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from telemetry import mqtt_bridge
from telemetry.models import Reading
from telemetry.mqtt_bridge import MqttBridge
from tests.telemetry.conftest import expected_latest, reading, stored_latest, stored_readings

pytestmark = pytest.mark.django_db(transaction=True)

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix():
    """A topic prefix and client-id stem no other test (or engineer) uses."""
    return f"test-bridge-{uuid.uuid4().hex[:12]}"


def forget_session(client_id):
    """End the broker's persistent session for ``client_id`` (connect clean with expiry 0)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client.connect(BROKER_HOST, BROKER_PORT, clean_start=True, properties=properties)
    client.disconnect()


@pytest.fixture
def make_bridge(prefix, monkeypatch):
    """Starts a bridge on this test's topic; each one made shares the client id (one persistent session)."""
    monkeypatch.setattr(mqtt_bridge, "DB_RETRY_FIRST_S", 0.05)
    bridges = []

    def make(port=BROKER_PORT, **options):
        bridge = MqttBridge(
            url=f"mqtt://{BROKER_HOST}:{port}",
            topic=f"{prefix}/+/telemetry",
            client_id=f"{prefix}-bridge",
            session_expiry_s=300,
            summary_every_s=3600,
            **options,
        )
        bridge.start()
        assert bridge.subscribed.wait(5), "the bridge did not subscribe"
        bridge.acks = []
        real_ack = bridge.client.ack

        def ack(mid, qos):
            bridge.acks.append(mid)
            return real_ack(mid, qos)

        bridge.client.ack = ack
        bridges.append(bridge)
        return bridge

    yield make
    for bridge in bridges:
        bridge.close()
    forget_session(f"{prefix}-bridge")


@pytest.fixture
def publish(prefix):
    """publish(well_id, payload) on this test's topic with QoS 1; returns paho's MQTTMessageInfo."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()

    def _publish(well_id, payload):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return client.publish(f"{prefix}/{well_id}/telemetry", body, qos=1)

    yield _publish
    client.disconnect()
    client.loop_stop()


def wait_published(infos):
    """Wait until the broker has acknowledged (PUBACK) each publication: from here on it owns them."""
    for info in infos:
        info.wait_for_publish(5)
        assert info.is_published()


def run_until(bridge, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; counters: {bridge.counters}"
        bridge.step(0.05)


def redelivered_before_a_new_message(bridge, publish, now):
    """How many messages a bridge that just resumed its session takes before one published now.

    The broker resends a session's unacknowledged messages first, so counting until a fresh marker
    arrives tells without waiting an arbitrary time whether anything was left unacknowledged.
    """
    marker_time = now + datetime.timedelta(seconds=1)  # no test stores a reading this late
    wait_published([publish("WELL-001", reading("WELL-001", marker_time))])
    run_until(bridge, lambda: Reading.objects.filter(time=marker_time).exists())
    return bridge.counters.received - 1


def another_session():
    """A second connection to the test database, to see only what the bridge has committed."""
    settings = connection.settings_dict
    return psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"])


def committed_reading_count():
    """Readings visible to another database session, i.e. committed."""
    with (
        another_session() as other,
        other.cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        return cursor.fetchone()[0]


def minutes_ago(now, minutes):
    return now - datetime.timedelta(minutes=minutes)


def test_every_message_is_stored_exactly_once_and_acknowledged_only_after_commit(
    make_bridge, publish, well, second_well, now
):
    bridge = make_bridge()
    committed_at_ack = []
    counting_ack = bridge.client.ack

    def ack_checking_commit(mid, qos):
        committed_at_ack.append((committed_reading_count(), bridge.counters.stored))
        return counting_ack(mid, qos)

    bridge.client.ack = ack_checking_commit
    expected = set()
    messages = []
    for minute in range(1, 41):
        well_id = "WELL-001" if minute % 2 else "WELL-002"
        if minute % 3 == 0:  # an array of three, without well_id: the topic names the well
            batch = [reading(..., minutes_ago(now, minute * 10 + k)) for k in range(3)]
            messages.append((well_id, batch))
            expected |= {(well_id, minutes_ago(now, minute * 10 + k)) for k in range(3)}
        else:
            messages.append((well_id, reading(well_id, minutes_ago(now, minute * 10))))
            expected.add((well_id, minutes_ago(now, minute * 10)))
    messages += messages[:10]  # a device retrying: the same readings again
    total_readings = sum(len(p) if isinstance(p, list) else 1 for _, p in messages)

    wait_published([publish(well_id, payload) for well_id, payload in messages])
    run_until(bridge, lambda: bridge.counters.received == len(messages) and bridge.unacknowledged == 0)

    assert set(stored_readings()) == expected
    assert Reading.objects.count() == len(expected)
    counters = bridge.counters
    assert (counters.stored, counters.duplicates, counters.rejected) == (
        len(expected),
        total_readings - len(expected),
        0,
    )
    assert len(bridge.acks) == len(messages)
    # Each acknowledgement went out when everything stored so far was visible to other sessions.
    assert all(committed == stored for committed, stored in committed_at_ack)
    assert counters.flushes < len(messages)  # batched, not one transaction per message

    # The broker got every PUBACK: a bridge resuming the session is handed nothing again.
    bridge.close()
    resumed = make_bridge()
    assert redelivered_before_a_new_message(resumed, publish, now) == 0


def test_the_latest_state_follows_the_newest_reading_whatever_order_messages_arrive(
    make_bridge, publish, well, second_well, now
):
    bridge = make_bridge()
    minutes = [5, 1, 70, 3, 65, 2, 1]  # out of order, across two hours, one repeated
    messages = [("WELL-001", reading(..., minutes_ago(now, m), flow_rate=100.0 + m)) for m in minutes]
    messages.append(("WELL-002", [reading(..., minutes_ago(now, m)) for m in (9, 4, 6)]))
    wait_published([publish(well_id, payload) for well_id, payload in messages])
    run_until(bridge, lambda: bridge.counters.received == len(messages) and bridge.unacknowledged == 0)

    latest = stored_latest()
    assert (latest[well.pk]["time"], latest[well.pk]["flow_rate"]) == (minutes_ago(now, 1), 101.0)
    assert latest[second_well.pk]["time"] == minutes_ago(now, 4)
    assert latest == expected_latest()


def test_bad_payloads_are_logged_counted_and_acknowledged_and_later_messages_still_stored(
    make_bridge, publish, well, now, caplog, prefix
):
    bridge = make_bridge()
    bad = [
        ("WELL-001", b"this is not json"),
        ("WELL-001", reading("WELL-001", minutes_ago(now, 2), flow_rate=-5.0)),
        ("WELL-404", reading(..., minutes_ago(now, 3))),
        ("WELL-001", reading("WELL-002", minutes_ago(now, 4))),  # names another well than its topic
        ("WELL-001", [reading("WELL-001", minutes_ago(now, 5)), reading("WELL-001", minutes_ago(now, 6), pip="x")]),
        ("WELL-001", b'"a string"'),
    ]
    good = [
        ("WELL-001", reading("WELL-001", minutes_ago(now, 1))),
        ("WELL-001", [reading("WELL-001", minutes_ago(now, 7)), reading(..., minutes_ago(now, 8))]),
    ]
    infos = [publish(*good[0])] + [publish(*message) for message in bad] + [publish(*good[1])]
    wait_published(infos)
    run_until(bridge, lambda: bridge.counters.received == 8 and bridge.unacknowledged == 0)

    assert set(stored_readings()) == {("WELL-001", minutes_ago(now, m)) for m in (1, 7, 8)}
    assert bridge.counters.rejected == len(bad)
    assert len(bridge.acks) == 8
    rejections = [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(rejections) == len(bad)
    assert all(f"{prefix}/WELL-" in line for line in rejections)  # the topic
    log = "\n".join(rejections)
    for reason in ("Malformed JSON", "flow_rate", "unknown well 'WELL-404'", "does not match", '"field": "pip"'):
        assert reason in log

    bridge.close()
    resumed = make_bridge()
    # Bad messages were acknowledged too: redelivery can't fix them.
    assert redelivered_before_a_new_message(resumed, publish, now) == 0


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_at_the_end_of_the_calendar_is_rejected_and_the_bridge_goes_on(
    make_bridge, publish, well, now, timestamp
):
    bridge = make_bridge()
    wait_published(
        [
            publish("WELL-001", {"timestamp": timestamp, "flow_rate": 1, "pip": 1, "motor_current": 1}),
            publish("WELL-001", reading("WELL-001", minutes_ago(now, 1))),
        ]
    )
    run_until(bridge, lambda: bridge.counters.received == 2 and bridge.unacknowledged == 0)
    assert bridge.counters.rejected == 1
    assert set(stored_readings()) == {("WELL-001", minutes_ago(now, 1))}
    assert len(bridge.acks) == 2  # the bad one too: redelivering it could never make it valid


def test_a_message_that_makes_the_write_raise_is_rejected_alone_and_the_rest_stored(
    make_bridge, publish, well, now, monkeypatch, caplog
):
    real_store_rows = mqtt_bridge.store_rows

    def store_rows_with_a_bug(rows):
        if any(row[2] == 666.0 for row in rows):  # flow_rate
            raise ZeroDivisionError("a bug nobody foresaw")
        return real_store_rows(rows)

    monkeypatch.setattr(mqtt_bridge, "store_rows", store_rows_with_a_bug)
    bridge = make_bridge(batch_wait_s=0.5)
    wait_published(
        [
            publish("WELL-001", reading("WELL-001", minutes_ago(now, 1))),
            publish("WELL-001", reading("WELL-001", minutes_ago(now, 2), flow_rate=666.0)),
            publish("WELL-001", reading("WELL-001", minutes_ago(now, 3))),
        ]
    )
    run_until(bridge, lambda: bridge.counters.received == 3 and bridge.unacknowledged == 0)
    assert set(stored_readings()) == {("WELL-001", minutes_ago(now, m)) for m in (1, 3)}
    assert bridge.counters.rejected == 1
    assert bridge.counters.database_errors == 0
    assert len(bridge.acks) == 3
    assert "ZeroDivisionError" in caplog.text

    wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, 4)))])
    run_until(bridge, lambda: bridge.counters.stored == 3)


def test_run_logs_an_unexpected_error_and_goes_on(make_bridge, publish, well, now, monkeypatch):
    monkeypatch.setattr(mqtt_bridge, "UNEXPECTED_ERROR_PAUSE_S", 0.01)
    bridge = make_bridge()
    real_take, failures = bridge._take, []

    def take_failing_once(*message):
        if not failures:
            failures.append(message)
            raise RuntimeError("a bug nobody foresaw")
        return real_take(*message)

    bridge._take = take_failing_once

    def run_then_close_its_database_connection():
        try:
            bridge.run()
        finally:
            connection.close()

    runner = threading.Thread(target=run_then_close_its_database_connection)
    runner.start()
    try:
        wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, m))) for m in (1, 2)])
        deadline = time.monotonic() + 10
        while bridge.counters.stored < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the other thread's progress, with a deadline
    finally:
        bridge.request_stop()
        runner.join(timeout=15)
    assert not runner.is_alive()
    assert bridge.counters.unexpected_errors == 1
    assert bridge.counters.stored == 1  # the message after the failure


def test_a_database_error_acknowledges_nothing_and_the_broker_redelivers(make_bridge, publish, well, now, monkeypatch):
    def database_down(rows):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(mqtt_bridge, "store_rows", database_down)
    bridge = make_bridge()
    wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, m))) for m in (1, 2, 3)])
    run_until(bridge, lambda: bridge.counters.database_errors >= 2)
    assert bridge.acks == []
    assert bridge.counters.stored == 0
    bridge.close()  # its last attempt fails too: the bridge stops without acknowledging

    monkeypatch.undo()
    resumed = make_bridge()
    run_until(resumed, lambda: resumed.counters.stored == 3 and resumed.unacknowledged == 0)
    assert resumed.counters.received == 3  # redelivered by the broker
    assert len(resumed.acks) == 3
    assert set(stored_readings()) == {("WELL-001", minutes_ago(now, m)) for m in (1, 2, 3)}


def test_it_retries_the_same_batch_until_the_database_is_back(make_bridge, publish, well, now, monkeypatch):
    real_store_rows = mqtt_bridge.store_rows
    attempts = []

    def flaky_store_rows(rows):
        attempts.append(len(rows))
        if len(attempts) <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real_store_rows(rows)

    monkeypatch.setattr(mqtt_bridge, "store_rows", flaky_store_rows)
    bridge = make_bridge()
    wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, m))) for m in (1, 2)])
    run_until(bridge, lambda: bridge.counters.stored == 2)
    assert bridge.counters.database_errors == 2
    assert len(bridge.acks) == 2
    assert Reading.objects.count() == 2


def test_it_reconnects_to_the_database_after_losing_its_connection(make_bridge, publish, well, now):
    bridge = make_bridge()
    wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, 1)))])
    run_until(bridge, lambda: bridge.counters.stored == 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with another_session() as admin:
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", [pid])

    wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, 2)))])
    run_until(bridge, lambda: bridge.counters.stored == 2)
    assert committed_reading_count() == 2
    assert len(bridge.acks) == 2


class BrokerLink:
    """A TCP relay between the bridge and the broker that the test can cut, like a network failure."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets = []
        self.relays = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                inbound, _ = self.server.accept()
            except OSError:
                return
            outbound = socket.create_connection((BROKER_HOST, BROKER_PORT))
            self.sockets += [inbound, outbound]
            for source, target in ((inbound, outbound), (outbound, inbound)):
                relay = threading.Thread(target=self._relay, args=(source, target), daemon=True)
                relay.start()
                self.relays.append(relay)

    @staticmethod
    def _relay(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self):
        """Drop every connection at once, whatever is in flight."""
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.sockets = []

    def close(self):
        """Stop accepting, and let the relays pass on what they hold until their ends hang up."""
        self.server.close()
        for relay in self.relays:
            relay.join(timeout=5)


def test_after_a_lost_broker_connection_it_reconnects_and_stores_redelivered_messages_once(
    make_bridge, publish, well, now
):
    link = BrokerLink()
    try:
        bridge = make_bridge(port=link.port, batch_wait_s=1.0)
        wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, m))) for m in range(1, 6)])
        run_until(bridge, lambda: len(bridge._batch) == 5)  # taken, not yet written or acknowledged
        link.cut()

        # The batch is committed but can't be acknowledged on the new connection; the broker redelivers
        # it once the bridge is back (paho reconnects after a second), and the copies are duplicates.
        run_until(bridge, lambda: bridge.counters.received == 10 and bridge.unacknowledged == 0)
        assert (bridge.counters.stored, bridge.counters.duplicates) == (5, 5)
        assert Reading.objects.count() == 5
        bridge.close()  # while the link is up: it waits until the broker has the copies' PUBACKs
    finally:
        link.close()
    resumed = make_bridge()
    assert redelivered_before_a_new_message(resumed, publish, now) == 0


def test_the_command_writes_what_it_holds_and_disconnects_on_sigterm(publish, well, now, prefix):
    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        "MQTT_TOPIC": f"{prefix}/+/telemetry",
        "MQTT_CLIENT_ID": f"{prefix}-command",
        "MQTT_SESSION_EXPIRY_SECONDS": "300",
        "MQTT_BATCH_WAIT_MS": "60000",  # nothing is written until the stop
        "LOG_LEVEL": "debug",  # logs each message it takes
    }
    command = subprocess.Popen(
        [sys.executable, "manage.py", "mqtt_ingest"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in command.stdout], daemon=True).start()
    output = []

    def read_until(text, times=1, timeout=15):
        deadline = time.monotonic() + timeout
        while sum(text in line for line in output) < times:
            output.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))

    try:
        read_until("subscribed to")
        wait_published([publish("WELL-001", reading("WELL-001", minutes_ago(now, m))) for m in (1, 2, 3)])
        read_until("took message", times=3)  # delivered to the bridge, held in its batch
        assert committed_reading_count() == 0
        command.send_signal(signal.SIGTERM)
        command.wait(timeout=15)
        read_until("unacknowledged")  # the summary it logs when it stops
    finally:
        if command.poll() is None:
            command.kill()
    log = "".join(output)
    assert command.returncode == 0, log
    assert "3 readings stored" in log and "0 unacknowledged" in log
    assert Reading.objects.count() == 3

    # It acknowledged before disconnecting: resuming its session, the broker has nothing more.
    resumed = MqttBridge(
        url=f"mqtt://{BROKER_HOST}:{BROKER_PORT}", topic=f"{prefix}/+/telemetry", client_id=f"{prefix}-command"
    )
    resumed.start()
    try:
        assert resumed.subscribed.wait(5)
        assert redelivered_before_a_new_message(resumed, publish, now) == 0
    finally:
        resumed.close()
        forget_session(f"{prefix}-command")


def test_bridges_of_a_shared_group_subscribe_to_the_shared_topic(settings):
    settings.MQTT_SHARED_GROUP = "esp-ingest"
    assert mqtt_bridge.MqttBridge(url="mqtt://127.0.0.1:1").subscription == "$share/esp-ingest/esp/+/telemetry"
    assert mqtt_bridge.MqttBridge(url="mqtt://127.0.0.1:1", shared_group="").subscription == "esp/+/telemetry"


@pytest.mark.parametrize("group", ["a/b", "plus+", "#"])
def test_it_refuses_a_shared_group_that_is_not_one_topic_level(group):
    with pytest.raises(ValueError, match="shared group"):
        mqtt_bridge.MqttBridge(url="mqtt://127.0.0.1:1", shared_group=group)
