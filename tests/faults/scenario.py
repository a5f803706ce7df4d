"""Readings flowing into a stack over HTTP and MQTT while a fault happens, and the checks every fault test
makes afterwards: everything acknowledged is stored, nothing twice, and how long the platform took."""

import time

from tests.faults.clients import Answers, HttpGateway, MqttFleet, ReadingClock
from tests.faults.stack import OPERATOR, sign_in, wait_for

# Each device sends a reading per well this often during a fault test (seconds): enough traffic that a
# fault lands in the middle of requests, little enough for a loaded 2-core machine.
INTERVAL_S = 0.5
STORED_ALL_S = 180


class Ingest:
    """HTTP gateways (``gateways`` of them, sharing ``http_wells``) posting batches and one MQTT connection per
    well of ``mqtt_wells`` publishing readings, into ``stack`` through ``web`` and its bridge."""

    def __init__(self, stack, web, http_wells, mqtt_wells, gateways=2, interval_s=INTERVAL_S):
        self.stack = stack
        self.answers = Answers()
        clock = ReadingClock()
        token = sign_in(web.base, OPERATOR)
        self.gateways = [
            HttpGateway(web.base, token, http_wells[n::gateways], clock, self.answers, interval_s)
            for n in range(gateways)
        ]
        self.fleet = MqttFleet(stack.broker, mqtt_wells, clock, self.answers, interval_s) if mqtt_wells else None

    def start(self):
        """Start every device and return once the platform has stored some of their readings."""
        if self.fleet:
            self.fleet.start_and_connect()
        for gateway in self.gateways:
            gateway.start()
        wait_for(lambda: self.stack.readings()[0] > 0, lambda: f"nothing stored:\n{self.stack.logs()}", 120)

    def stop(self):
        for gateway in self.gateways:
            gateway.stopping.set()
        for gateway in self.gateways:
            gateway.stop()
        if self.fleet:
            self.fleet.stop()

    def acknowledged(self):
        keys = set().union(*(g.acknowledged for g in self.gateways))
        return keys | (self.fleet.acknowledged() if self.fleet else set())

    def unacknowledged(self):
        keys = set().union(*(g.unacknowledged for g in self.gateways))
        return keys | (self.fleet.unacknowledged() if self.fleet else set())

    def http_outcomes(self, since=None, until=None):
        return dict(self.answers.outcomes(HttpGateway.endpoint, since, until))

    def http_recovered_after(self, moment):
        """Seconds from ``moment`` to the first batch stored that was sent after it (None: none was)."""
        first = self.answers.first_success_after(moment, HttpGateway.endpoint)
        return None if first is None else round(first - moment, 2)

    def recovered_after(self, moment, deadline_s=STORED_ALL_S):
        """Once the fault is over at ``moment``: wait until a batch sent after it is stored over HTTP and the
        table holds every reading acknowledged by then (the bridge has caught up); seconds for each."""
        backlog = len(self.acknowledged())
        wait_for(
            lambda: self.stack.readings()[0] >= backlog,
            lambda: f"{self.stack.readings()} stored of {backlog}:\n{self.stack.logs()}",
            deadline_s,
        )
        caught_up = time.monotonic() - moment
        wait_for(lambda: self.http_recovered_after(moment) is not None, self.stack.logs, deadline_s)
        return {
            "http_first_stored_s_after": self.http_recovered_after(moment),
            "backlog_stored_s_after": round(caught_up, 2),
        }

    def assert_stored_exactly_once(self):
        """Stop the devices, wait until every acknowledged reading is stored; returns the figures to report.

        A batch whose answer the gateway never got (a timeout) may be stored without having been
        acknowledged: that is allowed, a second copy is not.
        """
        self.stop()
        acknowledged = self.acknowledged()
        waited, _ = wait_for(
            lambda: self.stack.readings()[0] >= len(acknowledged),
            lambda: f"{self.stack.readings()} stored of {len(acknowledged)} acknowledged:\n{self.stack.logs()}",
            STORED_ALL_S,
        )
        rows, distinct = self.stack.readings()
        stored = self.stack.stored_keys()
        assert rows == distinct, "a reading was stored twice"
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged readings were lost"
        assert stored - acknowledged <= self.unacknowledged(), "stored readings no device sent"
        if self.fleet:
            assert not self.fleet.errors(), self.fleet.errors()
        return {
            "acknowledged": len(acknowledged),
            "stored": rows,
            "duplicates": rows - distinct,
            "drained_s_after_devices_stopped": round(waited, 2),
        }


def timed(action):
    """Run ``action``; (monotonic start, monotonic end)."""
    started = time.monotonic()
    action()
    return started, time.monotonic()
