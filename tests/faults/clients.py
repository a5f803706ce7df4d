"""Clients of the platform for the fault, scale-out and load tests: devices that post readings over HTTP and
publish them over MQTT, each remembering what the platform acknowledged and what every request answered.

A device's readings are one per well per tick, at distinct whole-second times in the past (so every
reading is valid and new); ``key`` = (well id, ISO time) is what the readings table is checked against.
"""

import asyncio
import collections
import dataclasses
import datetime
import json
import threading
import time

import requests

from tests.faults.mqtt import AsyncPublisher


@dataclasses.dataclass
class Answer:
    """One request or publish: which endpoint, when (monotonic), how long it took (s), what came back."""

    endpoint: str
    at: float
    seconds: float
    outcome: str  # an HTTP status code, "PUBACK", or the exception's name


class Answers:
    """Every answer clients saw, safe to append from many threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.items = []

    def add(self, endpoint, started, outcome):
        answer = Answer(endpoint, started, time.monotonic() - started, str(outcome))
        with self._lock:
            self.items.append(answer)

    def add_answer(self, answer):
        with self._lock:
            self.items.append(answer)

    def outcomes(self, endpoint=None, since=None, until=None):
        """Counter of outcomes, optionally for one endpoint and a time window."""
        return collections.Counter(
            a.outcome
            for a in list(self.items)
            if (endpoint is None or a.endpoint == endpoint)
            and (since is None or a.at >= since)
            and (until is None or a.at < until)
        )

    def first_success_after(self, moment, endpoint=None, success=("201", "200", "PUBACK")):
        """Monotonic time of the first successful answer to a request sent at or after ``moment``."""
        times = [
            a.at + a.seconds
            for a in list(self.items)
            if a.at >= moment and a.outcome in success and (endpoint is None or a.endpoint == endpoint)
        ]
        return min(times, default=None)


class ReadingClock:
    """Distinct reading times, one second apart, starting a day ago: valid, new and never in the future."""

    def __init__(self, start=None):
        self.start = start or datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=1)
        self._tick = 0
        self._lock = threading.Lock()

    def next(self):
        with self._lock:
            self._tick += 1
            moment = self.start + datetime.timedelta(seconds=self._tick)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reading_for(well_id, timestamp, tick=0):
    """A plausible reading (flow in bbl/d, pressure in psi, current in A, temperature in °C, vibration in mm/s)."""
    return {
        "well_id": well_id,
        "timestamp": timestamp,
        "flow_rate": 1000.0 + tick % 50,
        "pip": 800.0,
        "motor_current": 40.0,
        "motor_temp": 95.0,
        "vibration": 2.0,
    }


class HttpGateway(threading.Thread):
    """An RTU gateway for ``wells``: every ``interval_s`` it posts one reading per well in one batch to
    POST /api/v1/telemetry/batch, and retries a refused batch (any answer but 201) every ``retry_s`` until
    it is stored or the gateway is stopped. ``acknowledged`` holds the keys of batches answered 201."""

    endpoint = "POST /api/v1/telemetry/batch"

    def __init__(self, base, token, wells, clock, answers, interval_s, retry_s=0.5, timeout_s=30):
        super().__init__(daemon=True)
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.wells = wells
        self.clock = clock
        self.answers = answers
        self.interval_s = interval_s
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.acknowledged = set()
        self.unacknowledged = set()  # keys of a batch still refused when the gateway was stopped
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            timestamp = self.clock.next()
            batch = [reading_for(well, timestamp) for well in self.wells]
            self.send(batch)
            self.stopping.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def send(self, batch):
        body = json.dumps({"readings": batch})
        keys = {(r["well_id"], r["timestamp"]) for r in batch}
        while True:
            started = time.monotonic()
            try:
                response = self.session.post(
                    f"{self.base}/api/v1/telemetry/batch",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=self.timeout_s,
                )
                outcome = response.status_code
            except requests.RequestException as error:
                outcome = type(error).__name__
            self.answers.add(self.endpoint, started, outcome)
            if outcome == 201:
                self.acknowledged |= keys
                return
            if self.stopping.wait(self.retry_s):
                self.unacknowledged |= keys
                return

    def stop(self):
        self.stopping.set()
        self.join(60)
        assert not self.is_alive(), "an HTTP gateway did not stop"


class MqttFleet(threading.Thread):
    """One MQTT connection per well, each publishing one QoS 1 reading every ``interval_s`` (spread over
    the interval), all on one asyncio loop. ``acknowledged()`` is the keys the broker PUBACKed."""

    endpoint = "MQTT PUBLISH esp/<well>/telemetry"

    def __init__(self, broker, wells, clock, answers, interval_s):
        super().__init__(daemon=True)
        self.publishers = [AsyncPublisher(broker.port, well, broker.users[well]) for well in wells]
        for publisher in self.publishers:
            publisher.recorded = 0  # how many of its PUBACKs are already in ``answers``
        self.clock = clock
        self.answers = answers
        self.interval_s = interval_s
        self.connected = threading.Event()
        self.stopped = threading.Event()
        self.failure = None
        self._stop_requested = None
        self._loop = None

    def run(self):
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self.failure = error
            self.connected.set()
        finally:
            self.stopped.set()

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        # Connect in slices: a thousand simultaneous CONNECTs would overrun the broker's listen backlog.
        for first in range(0, len(self.publishers), 100):
            await asyncio.gather(*(p.connect() for p in self.publishers[first : first + 100]))
        self.connected.set()
        await asyncio.gather(*(self._publish_every_interval(p, n) for n, p in enumerate(self.publishers)))
        deadline = time.monotonic() + 60
        while any(p.pending for p in self.publishers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # PUBACKs still on their way after the last publish
        for publisher in self.publishers:
            self._record(publisher)
            await publisher.close()

    def _record(self, publisher):
        for _key, seconds in publisher.acknowledged[publisher.recorded :]:
            self.answers.add_answer(Answer(self.endpoint, time.monotonic() - seconds, seconds, "PUBACK"))
        publisher.recorded = len(publisher.acknowledged)

    async def _publish_every_interval(self, publisher, number):
        offset = self.interval_s * number / max(1, len(self.publishers))
        with_stop = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait([with_stop], timeout=offset)
        while not self._stop_requested.is_set():
            started = time.monotonic()
            timestamp = self.clock.next()
            payload = json.dumps(reading_for(publisher.username, timestamp)).encode()
            await publisher.publish(f"esp/{publisher.username}/telemetry", payload, (publisher.username, timestamp))
            self._record(publisher)
            await asyncio.wait([with_stop], timeout=max(0.0, self.interval_s - (time.monotonic() - started)))

    def start_and_connect(self, timeout=120):
        self.start()
        assert self.connected.wait(timeout), "the MQTT devices did not connect"
        if self.failure:
            raise self.failure

    def stop(self):
        self._loop.call_soon_threadsafe(self._stop_requested.set)
        assert self.stopped.wait(120), "the MQTT devices did not stop"
        if self.failure:
            raise self.failure

    def acknowledged(self):
        return {key for p in self.publishers for key, _seconds in p.acknowledged}

    def unacknowledged(self):
        return {key for p in self.publishers for key, _sent in p.pending.values()}

    def errors(self):
        return [error for p in self.publishers for error in p.errors]
