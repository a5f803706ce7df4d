"""Live delivery: one reading per well every few seconds, sent the way a controller would (MQTT or HTTP)."""

import datetime
import json
import math
import threading
import time
import urllib.error
import urllib.request


def topic_for(well_id, topic_filter):
    """The topic a well's controller publishes to: the bridge's filter with its ``+`` replaced by the well id."""
    return "/".join(well_id if level == "+" else level for level in topic_filter.split("/"))


class MqttDelivery:
    """Publishes each reading with QoS 1 to the well's own topic, as a controller with an MQTT client does."""

    def __init__(self, url, topic_filter, client_id=None):
        import paho.mqtt.client as mqtt

        from telemetry.mqtt_bridge import BROKER_RETRY_FIRST_S, BROKER_RETRY_MAX_S, BrokerAddress

        self.topic_filter = topic_filter
        self.broker = BrokerAddress.from_url(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5)
        self.broker.configure(self.client)
        self.client.reconnect_delay_set(BROKER_RETRY_FIRST_S, BROKER_RETRY_MAX_S)
        # While the broker is unreachable paho keeps what we publish; bound it like a controller's buffer.
        self.client.max_queued_messages_set(10_000)
        self.client.on_publish = self._on_publish
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self.sent = 0
        self.acknowledged = 0  # PUBACKs from the broker (counted in paho's thread)

    def __str__(self):
        return f"MQTT {self.broker} ({self.topic_filter})"

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self.acknowledged += 1

    def send(self, payloads):
        """Publish the readings; returns a short report. Until connected, paho queues them."""
        for payload in payloads:
            self.client.publish(topic_for(payload["well_id"], self.topic_filter), json.dumps(payload), qos=1)
        self.sent += len(payloads)
        return f"published {len(payloads)}, {self.sent - self.acknowledged} awaiting the broker's PUBACK"

    def close(self, timeout_s=5.0):
        """Give the broker up to ``timeout_s`` to acknowledge what was published, then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.acknowledged < self.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()


class HttpDelivery:
    """POSTs each round of readings to ``/api/v1/telemetry/batch`` with a Bearer token, as a SCADA gateway does.

    Signs in at ``/api/v1/auth/login`` with an operator's username and password, and again when the
    access token has expired (401).
    """

    def __init__(self, base_url, username, password, timeout_s=10.0):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self._token = None

    def __str__(self):
        return f"HTTP {self.base_url}/api/v1/telemetry/batch as {self.username}"

    def _post(self, path, body, token=None):
        """(status, decoded JSON body) of a POST; never raises for an HTTP error status."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own --url, http or https)
            self.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}

    def _sign_in(self):
        status, body = self._post("/api/v1/auth/login", {"username": self.username, "password": self.password})
        if status != 200:
            raise RuntimeError(f"signing in as {self.username} failed with HTTP {status}: {body}")
        self._token = body["access_token"]

    def send(self, payloads):
        if self._token is None:
            self._sign_in()
        status, body = self._post("/api/v1/telemetry/batch", {"readings": payloads}, self._token)
        if status == 401:
            self._sign_in()
            status, body = self._post("/api/v1/telemetry/batch", {"readings": payloads}, self._token)
        if status != 201:
            raise RuntimeError(f"the batch was refused with HTTP {status}: {body}")
        return f"posted {body['received']}: {body['inserted']} inserted, {body['duplicates']} duplicates"

    def close(self):
        pass


def run_live(simulators, deliver, interval_s=10, *, stop=None, ticks=None, say=print, report_every_s=60):
    """Send one reading per well every ``interval_s`` seconds until ``stop`` (a threading.Event) is set.

    The first round goes out at once, the next ones on whole multiples of the interval (rounds missed
    while delivery was stuck are skipped, as a controller would). ``deliver.send(payloads)`` gets a
    list of JSON-ready readings per round; a failed round is reported and the next one tried.
    ``ticks`` stops after that many rounds. Fault episodes starting and ending are announced with ``say``.
    Returns how many rounds were sent.
    """
    stop = stop or threading.Event()
    rounds = 0
    active = set()
    next_report = 0.0
    tick = math.floor(time.time())
    while not stop.is_set():
        moment = datetime.datetime.fromtimestamp(tick, datetime.UTC)
        now_active = {fault for simulator in simulators for fault in simulator.active_faults(moment)}
        for fault in sorted(now_active - active, key=str):
            say(f"fault starts: {fault}")
        for fault in sorted(active - now_active, key=str):
            say(f"fault ends: {fault.well_id} {fault.kind}")
        active = now_active
        payloads = [simulator.payload_at(moment) for simulator in simulators]
        try:
            outcome = deliver.send(payloads)
        except Exception as error:  # the broker or server may be down; a controller tries again next round
            say(f"{moment:%H:%M:%S}Z delivery failed: {error}")
        else:
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + report_every_s
                say(f"{moment:%H:%M:%S}Z {len(payloads)} wells: {outcome}")
        rounds += 1
        if ticks is not None and rounds >= ticks:
            break
        aligned_next = (tick // interval_s + 1) * interval_s
        tick = max(aligned_next, math.ceil(time.time() / interval_s) * interval_s)
        stop.wait(max(0.0, tick - time.time()))
    return rounds
