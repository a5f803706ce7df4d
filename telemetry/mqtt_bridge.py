"""The MQTT bridge: readings that pump controllers publish to the broker, written through ``telemetry.ingest``.

A controller publishes to ``esp/<well_id>/telemetry`` (``settings.MQTT_TOPIC``; the ``+`` level names the
well) one reading object or a JSON array of them, ``well_id`` optional in the payload. The bridge
(``manage.py mqtt_ingest``) subscribes with QoS 1 and guarantees that every message the broker hands it
ends up in the readings table exactly once, or is refused with a logged reason:

- **Acknowledged only after commit.** Messages are acknowledged by hand (PUBACK via ``client.ack``) and
  only once the transaction holding their readings has committed. A message the bridge never
  acknowledged is redelivered by the broker, and a redelivered reading is a duplicate that ingest
  ignores, so a crash or a lost connection at any moment loses nothing and stores nothing twice.
- **Persistent session.** MQTT 5 with ``clean_start=False``, a fixed client id (``MQTT_CLIENT_ID``) and a
  session expiry (``MQTT_SESSION_EXPIRY_SECONDS``): the broker queues messages published while the
  bridge is away and resends unacknowledged ones, with their original packet ids, when it reconnects.
  Mind the broker's own limit: Mosquitto queues at most ``max_queued_messages`` (default 1000) QoS 1
  messages per session beyond those in flight, whether the bridge is away or just behind, and drops
  the rest *after* acknowledging them to the publisher. The shipped ``docker/mosquitto.conf`` sizes it
  for 16 minutes at 1,000 messages/s (tests/faults runs that file).
- **Batched writes.** Messages are collected until they hold ``MQTT_BATCH_MAX_READINGS`` readings or
  ``MQTT_BATCH_WAIT_MS`` has passed since the first, then written in one transaction (one COPY). The
  connection asks the broker for up to ``receive_maximum`` unacknowledged messages in flight (MQTT 5
  Receive Maximum): without it Mosquitto stops at 20, which would cap the bridge at 20 messages a batch.
- **Each message is judged on its own.** A payload that is not JSON, holds an invalid reading or names an
  unknown well is logged with the topic and every reason, counted in ``rejected``, and acknowledged
  (redelivery could never make it valid); the other messages of the batch are stored.
- **Database trouble is never acknowledged.** If validation or the write fails with a database error,
  nothing of the batch is acknowledged; the bridge drops the connection and retries the same batch with
  backoff (0.5 s doubling to 30 s), taking in no more than one batch meanwhile.
- **A poison message is isolated, not retried for ever.** Any other exception while validating or
  writing a batch (a bug, an input nobody foresaw) makes the bridge write that batch's messages one by
  one: the message that raises again is logged with its traceback, counted in ``rejected`` and
  acknowledged; the others are stored. An exception anywhere else in the loop is logged and counted
  in ``unexpected_errors``, and the loop goes on: one message never stops the bridge.
- **Several bridges share the work** when ``MQTT_SHARED_GROUP`` names a group: each subscribes to
  ``$share/<group>/<MQTT_TOPIC>`` under its own ``MQTT_CLIENT_ID`` and persistent session, and the broker
  hands each message to one of them. Every rule above holds per bridge. A message the broker gave to a
  bridge that dies before acknowledging it stays in that bridge's session (Mosquitto 2.0 does not move
  it to another member): it is stored when that bridge — the same client id — comes back
  (tests/faults/test_scale_out.py).
- **Stopping confirms its acknowledgements.** ``close()`` writes what it holds, acknowledges it, then
  waits (briefly) for the broker to answer a harmless UNSUBSCRIBE: the broker handles a connection's
  packets in order, so by then it has every PUBACK, and a restarted bridge gets nothing redelivered.

Threads: paho's network loop runs in its own thread and only puts messages on a queue; the thread that
calls ``step()`` / ``run()`` owns the Django database connection, parses, writes and acknowledges.
"""

import contextlib
import dataclasses
import json
import logging
import queue
import threading
import time
import urllib.parse
from bisect import bisect_right

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import close_old_connections, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from telemetry import metrics
from telemetry.ingest import InvalidReadings, MalformedPayload, parse_payload, store_rows, validate_readings

logger = logging.getLogger(__name__)

# Backoff between attempts to write a batch after a database error, seconds.
DB_RETRY_FIRST_S = 0.5
DB_RETRY_MAX_S = 30.0
# Backoff between attempts to reach the broker, seconds (paho doubles from the first to the most).
BROKER_RETRY_FIRST_S = 1
BROKER_RETRY_MAX_S = 60
KEEPALIVE_S = 30
# How long close() waits for the broker to confirm it has the acknowledgements, and after an unexpected
# error in the loop before going on, seconds.
CLOSE_CONFIRM_S = 5.0
UNEXPECTED_ERROR_PAUSE_S = 1.0
# How many of a rejected message's errors the log line lists.
LOGGED_ERRORS = 10


@dataclasses.dataclass(frozen=True)
class BrokerAddress:
    """Where the broker listens, from ``MQTT_URL`` (``mqtt://[user:password@]host[:port]``, ``mqtts://`` for TLS)."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url):
        parts = urllib.parse.urlsplit(url)
        tls = parts.scheme == "mqtts"
        unquote = urllib.parse.unquote
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def configure(self, client):
        """Set credentials and TLS (system CA certificates) on a paho client."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()

    def __str__(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def well_id_level(topic_filter):
    """Which level of a topic the well id sits at: the filter's single-level wildcard ``+``."""
    levels = topic_filter.split("/")
    if levels.count("+") != 1 or "#" in levels:
        raise ValueError(f"MQTT topic filter {topic_filter!r} must have exactly one '+' (the well id) and no '#'")
    return levels.index("+")


def shared_subscription(group, topic_filter):
    """The MQTT 5 shared subscription of ``group`` to ``topic_filter``: ``$share/<group>/<filter>``."""
    if not group or any(character in group for character in "/+#"):
        raise ValueError(f"MQTT shared group {group!r} must be a non-empty name without '/', '+' or '#'")
    return f"$share/{group}/{topic_filter}"


@dataclasses.dataclass
class BridgeCounters:
    """What the bridge has done since it started (for the periodic log line, tests and metrics)."""

    received: int = 0  # messages taken from the broker (redeliveries included)
    readings: int = 0  # readings in messages that were stored
    stored: int = 0  # readings newly written to the table
    duplicates: int = 0  # readings already in the table (redeliveries, device retries)
    rejected: int = 0  # messages refused: not JSON, an invalid reading, an unknown well, a poison message
    flushes: int = 0  # batches committed
    database_errors: int = 0  # failed attempts to write a batch (nothing acknowledged; retried)
    unexpected_errors: int = 0  # exceptions that were not a database error (logged with their traceback)

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Message:
    topic: str
    mid: int
    qos: int
    connection: int  # which broker connection delivered it: only that one can acknowledge it
    readings: list = dataclasses.field(default_factory=list)
    rejected: bool = False


class MqttBridge:
    """The bridge between the broker's telemetry topic and the readings table (see the module docstring).

    Use ``run()`` in a process of its own (``manage.py mqtt_ingest``), or, in tests, ``start()``, then
    ``step()`` in a loop, then ``close()``. Every argument defaults to its setting.
    """

    def __init__(
        self,
        *,
        url=None,
        topic=None,
        shared_group=None,
        client_id=None,
        session_expiry_s=None,
        batch_max_readings=None,
        batch_wait_s=None,
        receive_maximum=None,
        summary_every_s=60.0,
    ):
        self.broker = BrokerAddress.from_url(url or settings.MQTT_URL)
        self.topic = topic or settings.MQTT_TOPIC
        self._well_level = well_id_level(self.topic)
        self._topic_levels = len(self.topic.split("/"))
        group = settings.MQTT_SHARED_GROUP if shared_group is None else shared_group
        self.subscription = shared_subscription(group, self.topic) if group else self.topic
        self.client_id = client_id or settings.MQTT_CLIENT_ID
        self.session_expiry_s = settings.MQTT_SESSION_EXPIRY_SECONDS if session_expiry_s is None else session_expiry_s
        self.batch_max_readings = batch_max_readings or settings.MQTT_BATCH_MAX_READINGS
        self.batch_wait_s = settings.MQTT_BATCH_WAIT_MS / 1000 if batch_wait_s is None else batch_wait_s
        # Enough unacknowledged messages in flight to fill two batches of single-reading messages.
        self.receive_maximum = receive_maximum or min(65_535, max(100, 2 * self.batch_max_readings))
        self.summary_every_s = summary_every_s
        self.counters = BridgeCounters()
        self.subscribed = threading.Event()
        self.client = None
        self._inbox = queue.Queue()  # (topic, payload, mid, qos, connection) from paho's thread
        self._connection = 0  # counts connections made and lost: a message is acknowledged on its own one
        self._batch = []
        self._batch_readings = 0
        self._batch_started = None  # time.monotonic() when the batch's first message arrived
        self._retry_at = None  # after a database error: when to try the batch again
        self._retry_delay = DB_RETRY_FIRST_S
        self._stop = threading.Event()
        self._unsubscribed = {}  # UNSUBSCRIBE packet id -> Event set when the broker answers it
        self._next_summary = time.monotonic() + summary_every_s

    # --- Broker connection (callbacks run in paho's network thread) ---------------------------------

    def start(self):
        """Connect in the background: paho's thread keeps (re)connecting with backoff until ``close()``."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        self.broker.configure(client)
        client.reconnect_delay_set(BROKER_RETRY_FIRST_S, BROKER_RETRY_MAX_S)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        client.connect_async(
            self.broker.host, self.broker.port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
        )
        self.client = client
        client.loop_start()
        logger.info("MQTT bridge: connecting to %s as %r, topic %s", self.broker, self.client_id, self.subscription)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.error("MQTT broker %s refused the connection: %s; retrying", self.broker, reason_code)
            return
        self._connection += 1
        logger.info(
            "MQTT bridge: connected to %s (%s session)",
            self.broker,
            "resumed" if flags.session_present else "new",
        )
        # Subscribing again on a resumed session is harmless, and covers a changed topic or a lost session.
        client.subscribe(self.subscription, qos=1)

    def _on_connect_fail(self, client, userdata):
        logger.warning("MQTT bridge: cannot reach the broker at %s; retrying with backoff", self.broker)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connection += 1  # what this connection delivered can no longer be acknowledged on it
        self.subscribed.clear()
        if not self._stop.is_set():
            logger.warning("MQTT bridge: lost the broker connection (%s); reconnecting", reason_code)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(code.is_failure for code in reason_codes):
            logger.error("MQTT bridge: the broker refused the subscription to %s: %s", self.subscription, reason_codes)
            return
        logger.info("MQTT bridge: subscribed to %s", self.subscription)
        self.subscribed.set()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        if (answered := self._unsubscribed.get(mid)) is not None:
            answered.set()

    def _on_message(self, client, userdata, message):
        self._inbox.put((message.topic, message.payload, message.mid, message.qos, self._connection))

    # --- Main loop (the thread that owns the database connection) -----------------------------------

    def run(self):
        """Start if needed and process messages until ``request_stop()``; then flush and disconnect."""
        if self.client is None:
            self.start()
        try:
            while not self._stop.is_set():
                try:
                    self.step()
                except Exception:
                    self.counters.unexpected_errors += 1
                    logger.exception("MQTT bridge: unexpected error; going on")
                    self._stop.wait(UNEXPECTED_ERROR_PAUSE_S)
        finally:
            self.close()

    def request_stop(self):
        """Ask ``run()`` to finish (safe from a signal handler)."""
        self._stop.set()

    @property
    def unacknowledged(self):
        """Messages taken from the broker and not yet acknowledged (in the batch or still queued)."""
        return len(self._batch) + self._inbox.qsize()

    def step(self, timeout=0.25):
        """Take messages for up to ``timeout`` seconds, writing and acknowledging batches as they fall due."""
        deadline = time.monotonic() + timeout
        metrics.bridge_alive(self)
        while True:
            now = time.monotonic()
            if self._flush_due(now):
                with metrics.timed(metrics.MQTT):
                    self._flush()
                now = time.monotonic()
            if now >= self._next_summary:
                self._next_summary = now + self.summary_every_s
                self.log_summary()
            if now >= deadline or self._stop.is_set():
                return
            wait = deadline - now
            if self._batch:
                wait = min(wait, self._next_flush_time() - now)
            if self._batch_readings >= self.batch_max_readings:
                # The batch is full and waiting for the database: leave the rest with the broker.
                time.sleep(max(0.0, wait))
                continue
            try:
                item = self._inbox.get(timeout=max(0.0, wait))
            except queue.Empty:
                continue
            self._take(*item)

    def _next_flush_time(self):
        return self._retry_at if self._retry_at is not None else self._batch_started + self.batch_wait_s

    def _flush_due(self, now):
        if not self._batch:
            return False
        if self._retry_at is not None:
            return now >= self._retry_at
        return self._batch_readings >= self.batch_max_readings or now >= self._batch_started + self.batch_wait_s

    def _take(self, topic, payload, mid, qos, connection_number):
        """Parse one message into the batch (a bad one joins it too, so acknowledgements keep their order)."""
        self.counters.received += 1
        message = _Message(topic, mid, qos, connection_number)
        levels = topic.split("/")
        try:
            if len(levels) != self._topic_levels:
                raise MalformedPayload(f"the topic does not match {self.topic}")
            if len(payload) > settings.TELEMETRY_BATCH_MAX_BYTES:  # as HTTP ingest answers 413
                raise MalformedPayload(f"a message holds at most {settings.TELEMETRY_BATCH_MAX_BYTES} bytes")
            message.readings = parse_payload(payload, well_id=levels[self._well_level])
            if len(message.readings) > settings.TELEMETRY_BATCH_MAX:
                raise MalformedPayload(
                    f"a message holds at most {settings.TELEMETRY_BATCH_MAX} readings; this one has "
                    f"{len(message.readings)}"
                )
        except MalformedPayload as error:
            metrics.refused(metrics.MQTT, metrics.MALFORMED)
            self._reject(message, str(error))
        except Exception as error:  # a payload must never crash the bridge, whatever is wrong with it
            metrics.refused(metrics.MQTT, metrics.ERROR)
            logger.exception("MQTT bridge: could not decode a message on %s", topic)
            self._reject(message, f"could not be decoded: {error!r}")
        logger.debug("MQTT bridge: took message %s on %s (%d readings)", mid, topic, len(message.readings))
        if not self._batch:
            self._batch_started = time.monotonic()
        self._batch.append(message)
        self._batch_readings += len(message.readings)

    def _reject(self, message, reason):
        """Refuse a message for good: log why, count it; it is acknowledged with its batch."""
        message.rejected = True
        message.readings = []
        self.counters.rejected += 1
        if isinstance(reason, list):
            shown = json.dumps(reason[:LOGGED_ERRORS])
            more = f" (and {len(reason) - LOGGED_ERRORS} more)" if len(reason) > LOGGED_ERRORS else ""
            reason = f"invalid reading(s): {shown}{more}"
        logger.warning("MQTT bridge: rejected message %s on %s: %s", message.mid, message.topic, reason)

    def _valid_rows(self, messages):
        """Rows to store for every message whose readings are all valid; the others are rejected.

        Validates all messages in one call (one query for the wells). When some are invalid, the error
        indexes say which messages they belong to; those are rejected and the rest validated again.
        """
        candidates = [m for m in messages if m.readings]
        while candidates:
            readings = []
            starts = []  # index in ``readings`` of each candidate's first reading
            for message in candidates:
                starts.append(len(readings))
                readings.extend(message.readings)
            try:
                return validate_readings(readings)
            except InvalidReadings as invalid:
                errors_of = {}
                for error in invalid.errors:
                    position = bisect_right(starts, error["index"]) - 1
                    local = {**error, "index": error["index"] - starts[position]}
                    errors_of.setdefault(position, []).append(local)
                for position, errors in errors_of.items():
                    metrics.refused_invalid_message(errors)
                    self._reject(candidates[position], errors)
                candidates = [m for m in candidates if not m.rejected]
        return []

    def _write(self, messages):
        """Validate and store the readings of ``messages`` in one transaction; (readings, newly stored)."""
        rows = self._valid_rows(messages)
        return len(rows), store_rows(rows)

    def _write_one_by_one(self, messages):
        """After an unexpected error: write each message alone, rejecting the ones that raise again."""
        readings = inserted = 0
        for message in messages:
            try:
                written, new = self._write([message])
            except DatabaseError:
                raise
            except Exception as error:
                self.counters.unexpected_errors += 1
                metrics.refused(metrics.MQTT, metrics.ERROR)
                logger.exception("MQTT bridge: message %s on %s could not be stored", message.mid, message.topic)
                self._reject(message, f"could not be stored: {error!r}")
                continue
            readings += written
            inserted += new
        return readings, inserted

    def _flush(self):
        """Write the batch, then acknowledge its messages; on a database error, retry later."""
        messages = self._batch
        close_old_connections()  # a connection past DB_CONN_MAX_AGE or broken is replaced, not reused
        try:
            try:
                readings, inserted = self._write(messages)
            except DatabaseError:
                raise
            except Exception:
                self.counters.unexpected_errors += 1
                logger.exception("MQTT bridge: writing %d message(s) failed; writing them one by one", len(messages))
                readings, inserted = self._write_one_by_one(messages)
        except DatabaseError as error:
            self.counters.database_errors += 1
            logger.error(
                "MQTT bridge: writing %d message(s) failed (%s); not acknowledged, retrying in %.1f s",
                len(messages),
                str(error).strip() or type(error).__name__,
                self._retry_delay,
            )
            with contextlib.suppress(DatabaseError):
                connection.close()  # the next attempt opens a fresh connection
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(DB_RETRY_MAX_S, self._retry_delay * 2)
            return
        self._retry_at = None
        self._retry_delay = DB_RETRY_FIRST_S
        self.counters.flushes += 1
        metrics.ingested(metrics.MQTT, readings, inserted)
        self.counters.readings += readings
        self.counters.stored += inserted
        self.counters.duplicates += readings - inserted
        self._batch = []
        self._batch_readings = 0
        self._batch_started = None
        self._acknowledge(messages)

    def _acknowledge(self, messages):
        """PUBACK each message, in the order received (as MQTT requires), now that its readings are committed.

        A message delivered over an earlier connection is not acknowledged: its packet id means nothing on
        the new one if the session was lost, and if the session survived the broker redelivers it and that
        copy, a duplicate, is acknowledged instead.
        """
        current = self._connection
        for message in messages:
            if message.qos > 0 and message.connection == current:
                self.client.ack(message.mid, message.qos)

    def log_summary(self):
        c = self.counters
        logger.info(
            "MQTT bridge: %d messages received, %d readings stored, %d duplicates, %d messages rejected, "
            "%d flushes, %d database errors, %d unexpected errors, %d unacknowledged",
            c.received,
            c.stored,
            c.duplicates,
            c.rejected,
            c.flushes,
            c.database_errors,
            c.unexpected_errors,
            self.unacknowledged,
        )

    def _confirm_acknowledgements(self):
        """Wait until the broker has processed everything sent so far, PUBACKs included (True), or give up.

        The broker answers a connection's packets in order, so the answer to an UNSUBSCRIBE sent now
        (from a topic the bridge never subscribed to: it changes nothing) comes after the PUBACKs.
        """
        answered = threading.Event()
        result, mid = self.client.unsubscribe(f"{self.client_id}/confirm-acknowledgements")
        if result != mqtt.MQTT_ERR_SUCCESS:
            return False
        self._unsubscribed[mid] = answered
        return answered.wait(CLOSE_CONFIRM_S)

    def close(self):
        """Write what has arrived (one attempt), acknowledge it, and disconnect. Safe to call twice."""
        self._stop.set()
        if self.client is None:
            return
        try:
            with contextlib.suppress(queue.Empty):
                while True:
                    self._take(*self._inbox.get_nowait())
            if self._batch:
                self._retry_at = None
                self._flush()
            if not self._confirm_acknowledgements():
                logger.warning("MQTT bridge: the broker did not confirm the last acknowledgements before stopping")
        except Exception:  # stopping must finish: what was not acknowledged is redelivered on the next start
            self.counters.unexpected_errors += 1
            logger.exception("MQTT bridge: unexpected error while stopping")
        if self.unacknowledged:
            logger.warning(
                "MQTT bridge: stopping with %d message(s) unacknowledged; the broker will redeliver them",
                self.unacknowledged,
            )
        metrics.bridge_alive(self)
        self.log_summary()
        self.client.disconnect()
        self.client.loop_stop()
        self.client = None
