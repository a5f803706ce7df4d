"""Telemetry ingestion: the one write path for readings, shared by HTTP, the MQTT bridge and the simulator.

How to use it (from any caller):

    readings = parse_batch(body)                 # HTTP batch: b'{"readings": [{...}, ...]}'
    readings = [parse_reading(body)]             # HTTP single: b'{...}'
    readings = parse_payload(body, well_id="WELL-001")   # MQTT: one object or an array; topic gives the well
    readings = [ReadingIn(well_id=..., timestamp=aware_dt, flow_rate=..., pip=..., motor_current=...)]
    result = ingest_readings(readings)           # -> IngestResult(received, inserted, duplicates)

- ``parse_*`` decode bytes with msgspec and raise ``MalformedPayload`` only for body-level problems
  (not UTF-8, not JSON, wrong shape, too many readings). A reading of the wrong shape (missing field,
  wrong type, unknown field) does not raise: it comes back in the list as a ``BadReading`` at its
  index, so ``ingest_readings`` can report it together with every other bad reading.
- Whatever the bytes, ``parse_*`` raise nothing but ``MalformedPayload`` and ``validate_readings`` nothing
  but ``InvalidReadings`` (tests/telemetry/test_ingest_hostile_input.py holds them to it); every message
  they carry encodes as UTF-8, so it can always be sent back.
- ``ingest_readings`` checks the domain rules below without the ORM (one query resolves all wells),
  then stores the batch in one transaction. **All or nothing**: if any reading is invalid it raises
  ``InvalidReadings`` (``.errors``: the first ``MAX_REPORTED_ERRORS`` of
  ``{"index", "field", "message", "code"}``; ``.error_count``: how many in all) and stores nothing.
- When it returns, the readings are committed (or, if the caller holds an open ``transaction.atomic``,
  they commit with it). A reading whose (well, time) is already stored, or appears earlier in the same
  batch, is a duplicate: counted in ``duplicates`` and the stored row is left unchanged. So retrying
  an acknowledged batch (MQTT QoS 1 redelivery, HTTP retry after a timeout) is safe.
- Every (well, UTC hour) that gained rows is written to ``ReadingChange`` in the same transaction
  (the rollups' invalidation log; see ``telemetry.models.ReadingChange``), and each well's
  ``LatestReading`` (newest reading, totals of its hour) is brought up to date in the same statement.

Domain rules (each violation names the reading's index and the field):
- ``well_id`` must name a registered well (or, over MQTT, come from the topic), so it is text PostgreSQL
  can compare: no NUL character, no unpaired UTF-16 surrogate;
- ``timestamp`` must carry a time zone (``Z`` or an offset such as ``+03:00``; stored as UTC), be no more
  than ``MAX_FUTURE`` ahead of the server clock, not before the well's install date (midnight in the
  well's time zone), and not older than ``TELEMETRY_RETENTION_DAYS`` (it would be dropped);
- ``flow_rate``, ``pip`` and ``motor_current`` are required; every metric must be a finite number
  (no NaN/Infinity) within its range in ``telemetry.metrics_catalogue``.

A bad reading is reported with every problem it has, one error per problem (each with a ``code``), so a
device fixes a batch in one round trip.

Write path: a batch is COPYed (binary format, psycopg's ``write_row``) straight into the readings table
in a savepoint, then one statement (``RECORD_COPIED_READINGS``) locks its wells, fills the change log and
keeps each well's latest state from the copied rows. When a reading is already stored (or twice in the
batch) the COPY fails, the savepoint is rolled back and the batch goes into a temporary table and through
one statement (``STORE_READINGS``) that locks the wells, runs ``INSERT … SELECT … ON CONFLICT (well_id,
time) DO NOTHING RETURNING``, and does the same with the inserted rows. A single reading goes straight to
that statement, with its values as parameters.
"""

import datetime
import json
import math
import operator
import re
from dataclasses import dataclass

import msgspec
import psycopg
from django.conf import settings
from django.db import connection, transaction

from config.text import printable, storable
from telemetry import storage
from telemetry.metrics_catalogue import METRICS
from telemetry.storage.schema import METRIC_COLUMNS, READING_COLUMNS
from wells import validity
from wells.models import Well

# How far ahead of the server clock a device's clock may be.
MAX_FUTURE = datetime.timedelta(minutes=5)
# How many individual errors a rejection lists (``error_count`` still counts all of them).
MAX_REPORTED_ERRORS = 100


class ReadingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One reading as a device sends it. Units as on ``telemetry.models.Reading``; unknown fields are refused.

    ``well_id`` is the public well identifier (``WELL-001``); it may be left out over MQTT, where the
    topic names the well. ``timestamp`` must be time-zone aware.
    """

    well_id: str | None = None
    timestamp: datetime.datetime
    flow_rate: float
    pip: float
    casing_pressure: float | None = None
    tubing_pressure: float | None = None
    intake_pressure: float | None = None
    discharge_pressure: float | None = None
    motor_current: float
    motor_temp: float | None = None
    vibration: float | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    readings: list[ReadingIn]


class BadReading(msgspec.Struct, frozen=True):
    """Stands in for a reading that could not be decoded, carrying why; ``ingest_readings`` reports it.

    ``problems``: every (field, code, message) found while decoding; ``partial``: the reading with the
    fields that did decode (None for the others), for the domain rules to check too, or None.
    """

    problems: tuple
    partial: ReadingIn | None = None


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int


class MalformedPayload(ValueError):
    """The body as a whole is unusable (not JSON, wrong shape, too many readings); ``str()`` says why."""


class InvalidReadings(ValueError):
    """At least one reading broke a rule; nothing was stored.

    ``errors``: up to MAX_REPORTED_ERRORS dicts ``{"index": int, "field": str | None, "message": str,
    "code": str}`` in reading order, every problem of each reading; ``error_count``: all errors;
    ``invalid_count``: how many readings had any.
    """

    def __init__(self, errors, error_count, invalid_count):
        self.errors = errors
        self.error_count = error_count
        self.invalid_count = invalid_count
        super().__init__(f"{invalid_count} invalid reading(s), {error_count} error(s); nothing was stored")


# --- Decoding ------------------------------------------------------------------------------------

_batch_decoder = msgspec.json.Decoder(BatchIn)
_reading_decoder = msgspec.json.Decoder(ReadingIn)
_payload_decoder = msgspec.json.Decoder(ReadingIn | list[ReadingIn])

_TYPE_WORDS = {
    "float": "a number",
    "str": "a string",
    "int": "an integer",
    "bool": "true/false",
    "null": "null",
    "object": "an object",
    "array": "an array",
    "datetime": "an RFC 3339 timestamp string",
}
_EXPECTED_GOT = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")
_READING_FIELDS = frozenset(ReadingIn.__struct_fields__)
_FIELD_TYPES = {field.name: field.type for field in msgspec.structs.fields(ReadingIn)}
_REQUIRED_FIELDS = tuple(field.name for field in msgspec.structs.fields(ReadingIn) if field.required)
NOT_UTF8 = "Malformed JSON: the body is not UTF-8 text."


def _type_problem(error):
    """(code, message) for a msgspec ValidationError converting one field's value."""
    text = str(error)
    if expected := _EXPECTED_GOT.search(text):
        wanted, got = (
            " or ".join(_TYPE_WORDS.get(part, part) for part in name.split(" | ")) for name in expected.groups()
        )
        return "invalid_type", f"must be {wanted}, got {got}"
    if "RFC3339" in text:
        return "invalid_timestamp", "is not an RFC 3339 timestamp such as 2025-01-31T12:00:00Z"
    return "invalid", text


def _json_type(value):
    """The JSON type of a decoded value, in the words of msgspec's messages above."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    return {float: "a number", str: "a string", list: "an array", type(None): "null"}.get(type(value), "an object")


def _explain(item):
    """A BadReading listing every problem decoding ``item`` (a dict) shows, with the fields that decoded."""
    problems = [
        (printable(key), "unknown_field", "unknown field" if key else "unknown field with an empty name")
        for key in item
        if key not in _READING_FIELDS
    ]
    decoded = {}
    for name, type_ in _FIELD_TYPES.items():
        if name not in item:
            if name in _REQUIRED_FIELDS:
                problems.append((name, "required", "required field is missing"))
            continue
        try:
            decoded[name] = msgspec.convert(item[name], type_, strict=True)
        except msgspec.ValidationError as error:
            problems.append((name, *_type_problem(error)))
        except UnicodeEncodeError:  # msgspec encodes a string it reads as UTF-8; an unpaired surrogate has none
            problems.append((name, "invalid_text", "must not contain unpaired surrogates"))
    return BadReading(tuple(problems), ReadingIn(**(dict.fromkeys(_REQUIRED_FIELDS) | decoded)))


def _convert_one(item):
    if not isinstance(item, dict):
        return BadReading(((None, "not_an_object", f"each reading must be a JSON object, got {_json_type(item)}"),))
    if _READING_FIELDS.issuperset(item):
        try:
            return msgspec.convert(item, ReadingIn, strict=True)
        except (msgspec.ValidationError, UnicodeEncodeError):
            pass  # explained field by field below
    return _explain(item)


def _fast_decode(decoder, body):
    """``decoder.decode(body)``, or None when the body needs the slow path that explains what is wrong."""
    try:
        return decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    except UnicodeDecodeError:
        raise MalformedPayload(NOT_UTF8) from None


def _json_int(digits):
    """An integer from JSON; one too long for Python to convert (over 4,300 digits) is far out of any
    metric's range anyway, so it becomes the float it rounds to (±inf) and is reported per field."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def _load_json(body):
    """Parse with the standard library, which also accepts NaN/Infinity so they can be reported per field."""
    if not body or not body.strip():
        raise MalformedPayload("The body is empty; send a JSON document.")
    try:
        # Strict UTF-8 first (RFC 8259): json.loads would also take UTF-16 or surrogates encoded as bytes.
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as error:
        raise MalformedPayload(f"Malformed JSON: {error.msg} at line {error.lineno} column {error.colno}.") from None
    except UnicodeDecodeError:
        raise MalformedPayload(NOT_UTF8) from None
    except RecursionError:
        raise MalformedPayload("Malformed JSON: nested too deeply.") from None


def _check_count(readings, max_readings):
    if max_readings is not None and len(readings) > max_readings:
        raise MalformedPayload(f"A batch holds at most {max_readings} readings; this one has {len(readings)}.")
    return readings


def parse_batch(body, *, max_readings=None):
    """Decode ``{"readings": [ ... ]}`` into a list of ReadingIn / BadReading (see module docstring).

    Raises MalformedPayload for a body that is not that shape or holds more than ``max_readings``.
    """
    if (batch := _fast_decode(_batch_decoder, body)) is not None:
        return _check_count(batch.readings, max_readings)
    # Something is wrong; decode again slowly to say exactly what, for every reading.
    document = _load_json(body)
    if not isinstance(document, dict) or not isinstance(document.get("readings"), list):
        raise MalformedPayload('Expected a JSON object {"readings": [ ... ]} with a list of readings.')
    if extra := sorted(set(document) - {"readings"}):
        named = ", ".join(printable(key) or '""' for key in extra)
        raise MalformedPayload(f"Unknown top-level field(s): {named}; only 'readings' is accepted.")
    return [_convert_one(item) for item in _check_count(document["readings"], max_readings)]


def parse_reading(body):
    """Decode one reading object into a ReadingIn, or a BadReading saying what is wrong with it.

    Raises MalformedPayload when the body is not JSON or not a JSON object.
    """
    if (reading := _fast_decode(_reading_decoder, body)) is not None:
        return reading
    document = _load_json(body)
    if not isinstance(document, dict):
        raise MalformedPayload("Expected one reading as a JSON object.")
    return _convert_one(document)


def parse_payload(body, *, well_id):
    """Decode an MQTT payload: one reading object or an array of them, for the well named in the topic.

    A reading without ``well_id`` gets the topic's; one naming another well becomes a BadReading.
    Raises MalformedPayload when the body is not JSON, nor an object or array.
    """
    if (decoded := _fast_decode(_payload_decoder, body)) is not None:
        readings = decoded if isinstance(decoded, list) else [decoded]
    else:
        document = _load_json(body)
        if isinstance(document, dict):
            document = [document]
        if not isinstance(document, list):
            raise MalformedPayload("Expected one reading as a JSON object, or an array of them.")
        readings = [_convert_one(item) for item in document]
    return [_for_topic(reading, well_id) for reading in readings]


def _for_topic(reading, well_id):
    """``reading`` for the topic's well: its well_id filled in, or a BadReading when it names another."""
    if isinstance(reading, ReadingIn):
        if reading.well_id is None or reading.well_id == well_id:
            reading.well_id = well_id
            return reading
        reading, problems = reading, ()
    else:
        reading, problems = reading.partial, reading.problems
        if reading is None:
            return BadReading(problems)
    if reading.well_id is not None and reading.well_id != well_id:
        message = f"{reading.well_id!r} does not match the topic's well {well_id}"
        problems = (*problems, ("well_id", "well_mismatch", message))
    return BadReading(problems, msgspec.structs.replace(reading, well_id=well_id))


# --- Validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KnownWell:
    pk: int
    first_valid_time: datetime.datetime  # install date at midnight, well-local time, in UTC
    earliest_accepted: datetime.datetime  # the later of first_valid_time and the retention cut-off, UTC
    install_date: datetime.date
    timezone: str


def _known_wells(public_ids, oldest):
    """The registered wells among ``public_ids``, by public id. One query."""
    if not public_ids:
        return {}
    rows = Well.objects.filter(well_id__in=public_ids).values_list("well_id", "pk", "install_date", "timezone")
    wells = {}
    for public_id, pk, install_date, timezone in rows:
        first_valid_time = validity.first_valid_time(install_date, timezone)
        wells[public_id] = _KnownWell(pk, first_valid_time, max(first_valid_time, oldest), install_date, timezone)
    return wells


def _as_float(value):
    """``value`` as a float when it is a number (an int too big for a float is ±inf), else None."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return None


def _metric_problems(reading):
    for metric in METRICS:
        field, lowest, highest, unit = metric.field, metric.lowest, metric.highest, metric.unit
        value = getattr(reading, field)
        if value is None:
            if metric.required:
                yield field, "required", "required field is missing"
        elif (value := _as_float(value)) is None:
            yield field, "invalid_type", f"must be a number, got {type(getattr(reading, field)).__name__}"
        elif not math.isfinite(value):
            yield field, "not_finite", f"must be a finite number, got {value}"
        elif value < lowest:
            if lowest == 0:
                yield field, "min_value", f"must not be negative, got {value} {unit}"
            else:
                yield field, "min_value", f"must be at least {lowest:g} {unit}, got {value}"
        elif value > highest:
            yield field, "max_value", f"must be at most {highest:,.0f} {unit}, got {value}"


def _bounds_check(metrics):
    """The fast path's check, ``_metrics_in_bounds(reading)``: True when every metric is present where
    required, a number, finite and within its range.

    Written out as one chained comparison per metric, generated from the catalogue (as
    ``collections.namedtuple`` generates its class) so it can't drift from it: a loop over the catalogue
    costs about three times as much per reading. Comparisons with NaN are false, so NaN fails here and
    ``_metric_problems`` explains it; None where required or a non-number raises TypeError, also False.
    """
    terms = []
    for metric in metrics:
        in_range = f"{metric.lowest!r} <= r.{metric.field} <= {metric.highest!r}"
        terms.append(in_range if metric.required else f"(r.{metric.field} is None or {in_range})")
    source = (
        "def _metrics_in_bounds(r):\n"
        "    try:\n"
        f"        return {' and '.join(terms)}\n"
        "    except TypeError:\n"
        "        return False\n"
    )
    namespace = {}
    exec(compile(source, "<telemetry.metrics_catalogue bounds>", "exec"), namespace)  # noqa: S102 - our own text
    return namespace["_metrics_in_bounds"]


_metrics_in_bounds = _bounds_check(METRICS)


def _reading_problems(reading, wells, latest, oldest):
    """Every (field, code, message) wrong with one reading; the slow, explaining path."""
    problems = []
    well = None
    if reading.well_id is None:
        problems.append(("well_id", "required", "required field is missing"))
    elif type(reading.well_id) is not str:
        problems.append(("well_id", "invalid_type", "must be a string"))
    elif not storable(reading.well_id):
        problems.append(("well_id", "invalid_text", "must not contain NUL characters or unpaired surrogates"))
    elif (well := wells.get(reading.well_id)) is None:
        problems.append(("well_id", "unknown_well", f"unknown well {reading.well_id!r}"))

    time = reading.timestamp
    if not isinstance(time, datetime.datetime):
        problems.append(("timestamp", "invalid_timestamp", "must be an RFC 3339 timestamp"))
    elif time.utcoffset() is None:
        problems.append(
            (
                "timestamp",
                "no_time_zone",
                "has no time zone; send UTC with Z (2025-01-31T12:00:00Z) or an offset (+03:00)",
            )
        )
    elif time > latest:
        problems.append(("timestamp", "in_future", f"is more than {MAX_FUTURE.seconds // 60} minutes in the future"))
    elif time < oldest:
        retention = settings.TELEMETRY_RETENTION_DAYS
        problems.append(("timestamp", "too_old", f"is older than the {retention}-day retention window"))
    elif well is not None and time < well.first_valid_time:
        message = f"is before the well's install date {well.install_date} ({well.timezone})"
        problems.append(("timestamp", "before_install", message))

    problems.extend(_metric_problems(reading))
    return problems


# A reading's metrics in storage order, as a tuple (C speed: this runs once per reading).
_metrics_of = operator.attrgetter(*METRIC_COLUMNS)


def _bad_reading_problems(bad, wells, latest, oldest):
    """What decoding found wrong with ``bad``, and what the domain rules find in the fields that decoded."""
    problems = list(bad.problems)
    if bad.partial is not None:
        reported = {field for field, _code, _message in problems}
        problems += [p for p in _reading_problems(bad.partial, wells, latest, oldest) if p[0] not in reported]
    return problems or [(None, "invalid", "invalid reading")]


def _row_or_problems(reading, wells, latest, oldest):
    """(row to store, None) for a valid reading, else (None, [(field, code, message), ...])."""
    well = wells.get(reading.well_id) if type(reading.well_id) is str else None
    time = reading.timestamp
    if (
        well is not None
        and isinstance(time, datetime.datetime)
        and time.utcoffset() is not None
        # Compare before converting: year 1 at +01:00 or year 9999 at -01:00 has no UTC datetime.
        and well.earliest_accepted <= time <= latest
        and _metrics_in_bounds(reading)
    ):
        return (well.pk, time.astimezone(datetime.UTC), *_metrics_of(reading)), None
    return None, _reading_problems(reading, wells, latest, oldest) or [(None, "invalid", "invalid reading")]


def _checked(reading):
    """The ReadingIn the domain rules look at: the reading, or what of a BadReading decoded (or None)."""
    return reading.partial if isinstance(reading, BadReading) else reading


def validate_readings(readings, *, now=None):
    """Rows ready to store (well pk, UTC time, metrics…) for ``readings``; raises InvalidReadings if any is bad."""
    now = now or datetime.datetime.now(datetime.UTC)
    latest = now + MAX_FUTURE
    oldest = now - datetime.timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    named = {r.well_id for r in map(_checked, readings) if isinstance(r, ReadingIn) and type(r.well_id) is str}
    wells = _known_wells({well_id for well_id in named if storable(well_id)}, oldest)
    rows = []
    errors = []
    error_count = 0
    invalid_count = 0
    for index, reading in enumerate(readings):
        if isinstance(reading, BadReading):
            problems = _bad_reading_problems(reading, wells, latest, oldest)
        elif isinstance(reading, ReadingIn):
            row, problems = _row_or_problems(reading, wells, latest, oldest)
            if row is not None:
                rows.append(row)
                continue
        else:
            problems = [(None, "not_a_reading", f"not a reading: {type(reading).__name__}")]
        invalid_count += 1
        error_count += len(problems)
        for field, code, message in problems:
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"index": index, "field": field, "message": message, "code": code})
    if invalid_count:
        raise InvalidReadings(errors, error_count, invalid_count)
    return rows


# --- Writing -------------------------------------------------------------------------------------

_COLUMNS = ", ".join(f'"{name}"' for name in READING_COLUMNS)

# A private, session-local landing table for a batch that holds a stored reading, with the readings'
# columns (no key, no index); dropped at commit at the latest.
CREATE_INCOMING_TABLE = "CREATE TEMPORARY TABLE telemetry_incoming (LIKE telemetry_reading) ON COMMIT DROP"

# Bulk-loads the batch in PostgreSQL's binary COPY format, through psycopg's ``Copy.write_row``.
COPY_INTO_INCOMING = f"COPY telemetry_incoming ({_COLUMNS}) FROM STDIN WITH (FORMAT binary)"
COPY_TYPES = ("int8", "timestamptz", *["float8"] * (len(READING_COLUMNS) - 2))

# Keeps telemetry.models.LatestReading from the rows the statement inserted (the CTE ``inserted``): per
# well, its newest inserted reading and the totals of the inserted rows in that reading's UTC hour. A
# newer hour starts the totals afresh, the same hour adds to them, and an older one (a late reading)
# changes nothing; the reading's values move only to a newer time. Only inserted rows count, so a
# duplicate changes nothing. Rows go in well order, so concurrent ingests lock wells in the same order.
KEEP_LATEST_READING = """
latest AS (
    INSERT INTO telemetry_latestreading AS l (
        well_id, "time", flow_rate, pip, casing_pressure, tubing_pressure, intake_pressure,
        discharge_pressure, motor_current, motor_temp, vibration,
        hour, hour_reading_count, hour_flow_rate_sum, hour_motor_current_sum, hour_motor_temp_sum,
        hour_motor_temp_count, hour_motor_temp_max, hour_vibration_sum, hour_vibration_count
    )
    SELECT n.well_id, n."time", n.flow_rate, n.pip, n.casing_pressure, n.tubing_pressure, n.intake_pressure,
           n.discharge_pressure, n.motor_current, n.motor_temp, n.vibration,
           t.hour, t.reading_count, t.flow_rate_sum, t.motor_current_sum, t.motor_temp_sum,
           t.motor_temp_count, t.motor_temp_max, t.vibration_sum, t.vibration_count
    FROM (SELECT DISTINCT ON (well_id) * FROM inserted ORDER BY well_id, "time" DESC) n
    JOIN (
        SELECT well_id, date_trunc('hour', "time", 'UTC') AS hour, count(*) AS reading_count,
               sum(flow_rate) AS flow_rate_sum, sum(motor_current) AS motor_current_sum,
               coalesce(sum(motor_temp), 0) AS motor_temp_sum, count(motor_temp) AS motor_temp_count,
               max(motor_temp) AS motor_temp_max,
               coalesce(sum(vibration), 0) AS vibration_sum, count(vibration) AS vibration_count
        FROM inserted
        GROUP BY 1, 2
    ) t ON t.well_id = n.well_id AND t.hour = date_trunc('hour', n."time", 'UTC')
    ORDER BY n.well_id
    ON CONFLICT (well_id) DO UPDATE SET
        "time" = greatest(l."time", excluded."time"),
        flow_rate = CASE WHEN excluded."time" > l."time" THEN excluded.flow_rate ELSE l.flow_rate END,
        pip = CASE WHEN excluded."time" > l."time" THEN excluded.pip ELSE l.pip END,
        casing_pressure = CASE WHEN excluded."time" > l."time" THEN excluded.casing_pressure ELSE l.casing_pressure END,
        tubing_pressure = CASE WHEN excluded."time" > l."time" THEN excluded.tubing_pressure ELSE l.tubing_pressure END,
        intake_pressure = CASE WHEN excluded."time" > l."time" THEN excluded.intake_pressure ELSE l.intake_pressure END,
        discharge_pressure = CASE WHEN excluded."time" > l."time"
                                  THEN excluded.discharge_pressure ELSE l.discharge_pressure END,
        motor_current = CASE WHEN excluded."time" > l."time" THEN excluded.motor_current ELSE l.motor_current END,
        motor_temp = CASE WHEN excluded."time" > l."time" THEN excluded.motor_temp ELSE l.motor_temp END,
        vibration = CASE WHEN excluded."time" > l."time" THEN excluded.vibration ELSE l.vibration END,
        hour = excluded.hour,
        hour_reading_count = excluded.hour_reading_count
            + CASE WHEN excluded.hour = l.hour THEN l.hour_reading_count ELSE 0 END,
        hour_flow_rate_sum = excluded.hour_flow_rate_sum
            + CASE WHEN excluded.hour = l.hour THEN l.hour_flow_rate_sum ELSE 0 END,
        hour_motor_current_sum = excluded.hour_motor_current_sum
            + CASE WHEN excluded.hour = l.hour THEN l.hour_motor_current_sum ELSE 0 END,
        hour_motor_temp_sum = excluded.hour_motor_temp_sum
            + CASE WHEN excluded.hour = l.hour THEN l.hour_motor_temp_sum ELSE 0 END,
        hour_motor_temp_count = excluded.hour_motor_temp_count
            + CASE WHEN excluded.hour = l.hour THEN l.hour_motor_temp_count ELSE 0 END,
        hour_motor_temp_max = CASE WHEN excluded.hour = l.hour
                                   THEN greatest(l.hour_motor_temp_max, excluded.hour_motor_temp_max)
                                   ELSE excluded.hour_motor_temp_max END,
        hour_vibration_sum = excluded.hour_vibration_sum
            + CASE WHEN excluded.hour = l.hour THEN l.hour_vibration_sum ELSE 0 END,
        hour_vibration_count = excluded.hour_vibration_count
            + CASE WHEN excluded.hour = l.hour THEN l.hour_vibration_count ELSE 0 END
    WHERE excluded.hour >= l.hour
)
"""

# What every write does with the rows it stored (the CTE ``inserted``): logs each (well, UTC hour) that
# gained rows for the rollups, so the log names exactly the hours that changed, and keeps each well's
# latest state (KEEP_LATEST_READING).
_RECORD_INSERTED = (
    """logged AS (
    INSERT INTO telemetry_readingchange (well_id, hour)
    SELECT DISTINCT well_id, date_trunc('hour', "time", 'UTC') FROM inserted
), """
    + KEEP_LATEST_READING
)

# Stores the readings in ``telemetry_incoming`` in one statement:
# - locks their wells FOR KEY SHARE first and stores only readings of wells it locked: the readings table
#   has no foreign key (migration telemetry 0003), so this lock is what keeps a well from being deleted
#   before the readings commit (its delete waits, then deletes them too); a well deleted before the lock
#   leaves its readings out, and the caller rolls back (see the count it answers);
# - inserts every reading whose (well, time) is new and keeps stored rows untouched (DO NOTHING, so a
#   duplicate never overwrites; within one batch the first occurrence wins);
# - records the inserted rows (_RECORD_INSERTED).
# Answers (readings inserted, wells locked). ``{incoming}`` is empty for the temporary table, or a CTE of
# the same name holding one reading.
STORE_READINGS = """
WITH {incoming}locked_wells AS (
    SELECT id FROM wells_well WHERE id IN (SELECT well_id FROM telemetry_incoming) FOR KEY SHARE
), inserted AS (
    INSERT INTO telemetry_reading ({columns})
    SELECT {columns} FROM telemetry_incoming WHERE well_id IN (SELECT id FROM locked_wells)
    ON CONFLICT (well_id, "time") DO NOTHING
    RETURNING {columns}
), {record_inserted}
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM locked_wells)
"""
STORE_INCOMING_READINGS = STORE_READINGS.format(incoming="", columns=_COLUMNS, record_inserted=_RECORD_INSERTED)
# One reading skips the temporary table: the same statement, reading it from parameters.
STORE_ONE_READING = STORE_READINGS.format(
    incoming=f"telemetry_incoming ({_COLUMNS}) AS (VALUES ({', '.join(f'%s::{kind}' for kind in COPY_TYPES)})), ",
    columns=_COLUMNS,
    record_inserted=_RECORD_INSERTED,
)

# The fast path of a batch, for the usual one where every reading is new: COPY straight into the readings
# table (inside a savepoint; a reading already stored, or twice in the batch, aborts it with a unique
# violation and the batch goes through STORE_INCOMING_READINGS instead), and the same rows into the
# temporary table, then this statement, which does for the copied rows what STORE_READINGS does for the
# inserted ones: locks their wells FOR KEY SHARE (the caller rolls back when it locks fewer than it names)
# and records them. A second COPY costs less than handing the rows back as parameters or an INSERT … SELECT
# with ON CONFLICT. Answers the wells locked.
COPY_INTO_READINGS = f"COPY telemetry_reading ({_COLUMNS}) FROM STDIN WITH (FORMAT binary)"
RECORD_COPIED_READINGS = f"""
WITH locked_wells AS (
    SELECT id FROM wells_well WHERE id = ANY(%(wells)s) FOR KEY SHARE
), inserted AS (
    SELECT * FROM telemetry_incoming
), {_RECORD_INSERTED}
SELECT count(*) FROM locked_wells
"""

# Drop now rather than at commit, so a caller's outer transaction can ingest again.
DROP_INCOMING_TABLE = "DROP TABLE telemetry_incoming"


class WellDeleted(InvalidReadings):
    """A well was deleted between validating its readings and storing them; nothing was stored."""


def _copy_rows(cursor, statement, rows):
    with cursor.copy(statement) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def _store_batch(cursor, rows, wells):
    """(readings inserted, wells locked) for a batch; see COPY_INTO_READINGS for the two ways."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate undoes only the fast attempt
            cursor.execute(CREATE_INCOMING_TABLE)
            _copy_rows(cursor, COPY_INTO_READINGS, rows)
            _copy_rows(cursor, COPY_INTO_INCOMING, rows)
            cursor.execute(RECORD_COPIED_READINGS, {"wells": list(wells)})
            (locked,) = cursor.fetchone()
            cursor.execute(DROP_INCOMING_TABLE)
            return len(rows), locked
    except psycopg.errors.UniqueViolation:  # raised by the COPY itself, which Django's cursor does not wrap
        pass
    cursor.execute(CREATE_INCOMING_TABLE)
    _copy_rows(cursor, COPY_INTO_INCOMING, rows)
    cursor.execute(STORE_INCOMING_READINGS)
    counts = cursor.fetchone()
    cursor.execute(DROP_INCOMING_TABLE)
    return counts


def _refuse_rows_of_deleted_wells(cursor, rows, wells):
    cursor.execute("SELECT id FROM wells_well WHERE id = ANY(%s)", [list(wells)])
    gone = wells - {pk for (pk,) in cursor.fetchall()}
    errors = [
        {"index": index, "field": "well_id", "message": "the well was deleted while this reading was stored"}
        for index, row in enumerate(rows)
        if row[0] in gone
    ]
    raise WellDeleted(errors[:MAX_REPORTED_ERRORS], len(errors), len(errors))


def store_rows(rows):
    """Write validated rows in one transaction; returns how many were new. Creates partitions as needed.

    Raises WellDeleted (storing nothing) when a row's well no longer exists.
    """
    if not rows:
        return 0
    storage.prepare_days({row[1].date() for row in rows})
    wells = {row[0] for row in rows}
    if len(rows) == 1:
        # One statement is a transaction by itself: no BEGIN and COMMIT round trips. A deleted well's
        # reading is not written at all.
        with connection.cursor() as cursor:
            cursor.execute(STORE_ONE_READING, rows[0])
            inserted, locked = cursor.fetchone()
            if not locked:
                _refuse_rows_of_deleted_wells(cursor, rows, wells)
        return inserted
    with transaction.atomic(), connection.cursor() as cursor:
        inserted, locked = _store_batch(cursor, rows, wells)
        if locked < len(wells):
            _refuse_rows_of_deleted_wells(cursor, rows, wells)
    return inserted


def ingest_readings(readings, *, now=None):
    """Validate and store a batch, all or nothing. Returns IngestResult; raises InvalidReadings.

    ``readings`` is a list of ReadingIn (or BadReading from the parse functions). ``now`` is the
    server time the future/retention rules compare against (default: the clock). Costs one query for
    the wells, at most a few for new partitions, and one statement for a single reading's write (no
    transaction of its own: one statement is atomic) or two for a new batch's (COPY, then lock and
    log, in a savepoint); a batch holding a stored reading pays that and then four more.
    """
    rows = validate_readings(readings, now=now)
    inserted = store_rows(rows)
    return IngestResult(received=len(readings), inserted=inserted, duplicates=len(readings) - inserted)
