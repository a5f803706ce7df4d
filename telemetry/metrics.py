"""Prometheus metrics of telemetry ingestion, incremented on the data path (HTTP views, MQTT bridge).

``operations`` exposes them at ``/metrics``; nothing here imports it. In a process started with
``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn workers, the bridge), prometheus_client keeps the values in
memory-mapped files in that directory, so the web server's ``/metrics`` adds up every process's
counts (README "Operations: metrics and health").

No label names a well: label values are a small fixed set (sources, outcomes, reasons), so the
number of series does not grow with the fleet. Every combination is created at import, so a series
reads 0 before its first event instead of being absent (an absent series defeats ``rate()`` alerts).
"""

import time
import weakref

from prometheus_client import Counter, Gauge, Histogram

from telemetry.storage.schema import METRIC_COLUMNS

HTTP, MQTT = "http", "mqtt"
SOURCES = (HTTP, MQTT)

# What became of the readings that reached ingestion: newly stored, already stored (duplicate), or
# refused by a domain rule (all or nothing per HTTP request; per message over MQTT).
STORED, DUPLICATE, INVALID = "stored", "duplicate", "invalid"
OUTCOMES = (STORED, DUPLICATE, INVALID)

# Why a payload (an HTTP request body or an MQTT message) was refused. For invalid readings the reason
# is the first error's kind: the well (unknown, or not the topic's), the timestamp (no zone, future,
# older than retention, before install), a value (missing, not a number, out of its physical range) or
# the reading's shape (not an object, unknown field).
MALFORMED = "malformed"  # not UTF-8 / JSON, or not the expected document shape
WELL, TIMESTAMP, VALUE, SHAPE = "well", "timestamp", "value", "shape"
TOO_LARGE = "too_large"  # HTTP 413
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # HTTP 415
ERROR = "error"  # an unexpected exception while decoding or storing it (MQTT poison message)
REASONS = (MALFORMED, WELL, TIMESTAMP, VALUE, SHAPE, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, ERROR)

_METRIC_FIELDS = frozenset(METRIC_COLUMNS)

READINGS = Counter(
    "esp_ingest_readings",
    "Readings that reached ingestion, by source (http, mqtt) and outcome (stored, duplicate, invalid).",
    ["source", "outcome"],
)
REJECTIONS = Counter(
    "esp_ingest_rejections",
    "Payloads refused (HTTP request bodies, MQTT messages), by source and reason.",
    ["source", "reason"],
)
BATCH_READINGS = Histogram(
    "esp_ingest_batch_readings",
    "Readings per stored write: an HTTP request, or one flush of the MQTT bridge.",
    ["source"],
    buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000),
)
DURATION = Histogram(
    "esp_ingest_duration_seconds",
    "Time to decode, validate and store one HTTP request's readings (refused ones too), or of one attempt "
    "of the MQTT bridge to write and acknowledge a batch, seconds.",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# The MQTT bridge (telemetry.mqtt_bridge.BridgeCounters, exported by ``bridge_alive``). Gauges of one
# process at a time: "live" modes drop a process's value when it ends (prometheus_client mark_process_dead).
BRIDGE_MESSAGES = Counter("esp_mqtt_bridge_messages_received", "Messages the MQTT bridge took from the broker.")
BRIDGE_FLUSHES = Counter("esp_mqtt_bridge_flushes", "Batches the MQTT bridge committed and acknowledged.")
BRIDGE_DATABASE_ERRORS = Counter(
    "esp_mqtt_bridge_database_errors", "Failed attempts of the MQTT bridge to write a batch (retried, nothing acked)."
)
BRIDGE_UNEXPECTED_ERRORS = Counter(
    "esp_mqtt_bridge_unexpected_errors", "Exceptions in the MQTT bridge that were not database errors."
)
BRIDGE_UNACKNOWLEDGED = Gauge(
    "esp_mqtt_bridge_unacknowledged_messages",
    "Messages the MQTT bridge has taken and not yet acknowledged (batched or queued).",
    multiprocess_mode="livesum",
)
BRIDGE_HEARTBEAT = Gauge(
    "esp_mqtt_bridge_heartbeat_timestamp_seconds",
    "Unix time of the MQTT bridge's latest loop step; 0 when no bridge runs (readiness reads it).",
    multiprocess_mode="livemax",
)

_readings = {(source, outcome): READINGS.labels(source, outcome) for source in SOURCES for outcome in OUTCOMES}
_rejections = {(source, reason): REJECTIONS.labels(source, reason) for source in SOURCES for reason in REASONS}
_batch_readings = {source: BATCH_READINGS.labels(source) for source in SOURCES}
_duration = {source: DURATION.labels(source) for source in SOURCES}


def timed(source):
    """Context manager observing the block's duration in ``esp_ingest_duration_seconds{source}``."""
    return _duration[source].time()


def ingested(source, received, inserted):
    """Count a stored write: ``received`` valid readings, of which ``inserted`` were new."""
    _readings[source, STORED].inc(inserted)
    _readings[source, DUPLICATE].inc(received - inserted)
    if received:  # an MQTT flush whose messages were all refused wrote nothing
        _batch_readings[source].observe(received)


def refused(source, reason):
    """Count one payload refused for ``reason`` (one of REASONS) without readings to count."""
    _rejections[source, reason].inc()


def invalid_reason(errors):
    """The reason for refusing a payload whose readings broke rules: the kind of its first error."""
    field = errors[0].get("field") if errors else None
    if field == "well_id":
        return WELL
    if field == "timestamp":
        return TIMESTAMP
    if field in _METRIC_FIELDS:
        return VALUE
    return SHAPE


def refused_invalid(source, errors, invalid_count):
    """Count a payload refused because ``invalid_count`` readings broke rules (``errors`` as InvalidReadings)."""
    _rejections[source, invalid_reason(errors)].inc()
    _readings[source, INVALID].inc(invalid_count)


def refused_invalid_message(errors):
    """An MQTT message refused for its invalid readings; ``errors`` as InvalidReadings (per-message indexes)."""
    refused_invalid(MQTT, errors, len({error.get("index") for error in errors}) or 1)


# The bridge's counters, last exported, per bridge (its BridgeCounters instance).
_BRIDGE_COUNTERS = {
    "received": BRIDGE_MESSAGES,
    "flushes": BRIDGE_FLUSHES,
    "database_errors": BRIDGE_DATABASE_ERRORS,
    "unexpected_errors": BRIDGE_UNEXPECTED_ERRORS,
}
_exported = {}


def bridge_alive(bridge):
    """Called by the bridge's loop on every step: heartbeat, unacknowledged messages, and what its
    ``BridgeCounters`` gained since the last call (they stay the bridge's one record of what it did)."""
    BRIDGE_HEARTBEAT.set(time.time())
    BRIDGE_UNACKNOWLEDGED.set(bridge.unacknowledged)
    counters = bridge.counters
    key = id(counters)
    last = _exported.get(key)
    if last is None:
        last = _exported[key] = dict.fromkeys(_BRIDGE_COUNTERS, 0)
        weakref.finalize(counters, _exported.pop, key, None)
    for field, metric in _BRIDGE_COUNTERS.items():
        value = getattr(counters, field)
        if value > last[field]:
            metric.inc(value - last[field])
            last[field] = value
