"""Hostile input to ingestion: whatever a device or an attacker sends, the answer is a 400 naming the
problem (MalformedPayload or InvalidReadings in code), never a crash, and nothing is stored."""

import datetime
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry.ingest import (
    InvalidReadings,
    MalformedPayload,
    ReadingIn,
    parse_batch,
    parse_payload,
    parse_reading,
    validate_readings,
)
from telemetry.models import Reading
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db

INGEST = "/api/v1/telemetry/ingest"
BATCH = "/api/v1/telemetry/batch"
READING_FIELDS = list(ReadingIn.__struct_fields__)


def post(client, url, body):
    return client.generic("POST", url, body, content_type="application/json")


def as_json(document):
    # ensure_ascii escapes a lone surrogate as \ud800, as a device's JSON library would send it.
    return json.dumps(document, ensure_ascii=True).encode()


def problems(readings):
    """[(field, message)] of the InvalidReadings that validate_readings raises for ``readings``."""
    with pytest.raises(InvalidReadings) as caught:
        validate_readings(readings)
    return [(error["field"], error["message"]) for error in caught.value.errors]


def rendered(errors):
    """The errors as the HTTP and MQTT answers encode them: UTF-8 JSON."""
    return json.dumps(errors, ensure_ascii=False).encode("utf-8")


# --- Timestamps beyond what a UTC datetime can hold -------------------------------------------------


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        ("0001-01-01T00:00:00+01:00", "is older than the 365-day retention window"),
        ("9999-12-31T23:59:59-01:00", "is more than 5 minutes in the future"),
    ],
)
def test_it_rejects_a_timestamp_that_has_no_utc_equivalent(timestamp, message):
    readings = parse_batch(as_json({"readings": [reading(time=timestamp)]}))
    assert problems(readings) == [("timestamp", message)]


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("url", [INGEST, BATCH])
def test_over_http_a_timestamp_with_no_utc_equivalent_is_a_400_naming_it(operator_client, url, timestamp):
    document = reading(time=timestamp)
    response = post(operator_client, url, as_json(document if url == INGEST else {"readings": [document]}))
    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["timestamp"]
    assert Reading.objects.count() == 0


# --- well_id that PostgreSQL or UTF-8 cannot hold ---------------------------------------------------


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("well_id", ["WELL-001\x00", "\x00", "\ud800", "WELL-\udfff"])
def test_it_rejects_a_well_id_with_nul_or_an_unpaired_surrogate(well_id):
    found = problems(parse_batch(as_json({"readings": [reading(well_id)]})))
    assert [field for field, _ in found] == ["well_id"]
    rendered(found)  # the answer itself must be encodable


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("well_id", ["WELL-001\x00", "\ud800"])
@pytest.mark.parametrize("url", [INGEST, BATCH])
def test_over_http_a_well_id_with_nul_or_a_surrogate_is_a_400_naming_it(operator_client, url, well_id):
    document = reading(well_id)
    response = post(operator_client, url, as_json(document if url == INGEST else {"readings": [document]}))
    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["well_id"]
    assert Reading.objects.count() == 0


@pytest.mark.usefixtures("well")
def test_over_mqtt_a_well_id_with_nul_is_refused_like_any_unknown_well():
    readings = parse_payload(as_json(reading(...)), well_id="WELL-001\x00")
    assert [field for field, _ in problems(readings)] == ["well_id"]


# --- Bodies that are not UTF-8 ----------------------------------------------------------------------

NOT_UTF8 = [
    b'{"well_id": "\xff", "timestamp": "2025-01-01T00:00:00Z", "flow_rate": 1, "pip": 1, "motor_current": 1}',
    # A surrogate encoded as if it were a character (CESU-8): not UTF-8, though Python's surrogatepass reads it.
    b'{"well_id": "\xed\xa0\x80", "timestamp": "2025-01-01T00:00:00Z", "flow_rate": 1, "pip": 1, "motor_current": 1}',
    '{"well_id": "WELL-001", "flow_rate": 1}'.encode("utf-16"),
]


@pytest.mark.parametrize("body", NOT_UTF8)
def test_a_body_that_is_not_utf8_is_malformed(body):
    for parse in (parse_reading, lambda b: parse_batch(b'{"readings": [' + b + b"]}"), parse_payload_for_well):
        with pytest.raises(MalformedPayload, match="not UTF-8"):
            parse(body)


def parse_payload_for_well(body):
    return parse_payload(body, well_id="WELL-001")


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("body", NOT_UTF8[:2])
def test_over_http_a_body_that_is_not_utf8_is_a_400(operator_client, body):
    for url, payload in ((INGEST, body), (BATCH, b'{"readings": [' + body + b"]}")):
        response = post(operator_client, url, payload)
        assert response.status_code == 400, response.content
        assert "not UTF-8" in response.json()["detail"]
    assert Reading.objects.count() == 0


# --- Keys and numbers ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("key", ["", "a`b", "\ud800", "\x00"])
def test_an_unknown_key_of_any_spelling_is_named(key):
    found = problems(parse_batch(as_json({"readings": [{**reading(), key: 1}]})))
    assert len(found) == 1 and found[0][1].startswith("unknown field")
    rendered(found)


@pytest.mark.usefixtures("well")
def test_over_http_a_reading_with_an_empty_key_is_a_400_naming_it(operator_client):
    response = post(operator_client, INGEST, as_json({**reading(), "": 1}))
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [
        {"index": 0, "field": "", "message": "unknown field with an empty name", "code": "unknown_field"}
    ]


def test_unknown_top_level_keys_are_named_readably():
    with pytest.raises(MalformedPayload) as caught:
        parse_batch(as_json({"readings": [], "\ud800": 1, "": 2}))
    rendered(str(caught.value))
    assert str(caught.value).startswith('Unknown top-level field(s): "", \\ud800;')


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize("number", ["1" + "0" * 400, "1" + "0" * 5000, "-1" + "0" * 5000, "1e400"])
def test_a_number_too_big_for_a_float_is_an_invalid_metric(number):
    text = json.dumps(reading()).replace('"flow_rate": 1000.0', f'"flow_rate": {number}').encode()
    for readings in (parse_batch(b'{"readings": [' + text + b"]}"), [parse_reading(text)]):
        assert [field for field, _ in problems(readings)] == ["flow_rate"]


@pytest.mark.usefixtures("well")
@pytest.mark.parametrize(
    "value", [10**400, -(10**5000), "1", [1], {"a": 1}], ids=["1e400", "-1e5000", "str", "list", "dict"]
)
def test_validation_names_a_metric_built_in_code_with_any_value(value):
    # The simulator and the MQTT bridge build ReadingIn themselves; msgspec does not check those.
    built = ReadingIn(
        well_id="WELL-001",
        timestamp=datetime.datetime.now(datetime.UTC),
        flow_rate=1.0,
        pip=1.0,
        motor_current=value,
    )
    found = problems([built])
    assert [field for field, _ in found] == ["motor_current"]
    rendered(found)


# --- Anything at all ----------------------------------------------------------------------------------

# Any code point, unpaired surrogates and NUL included (st.text leaves surrogates out).
any_text = st.lists(st.characters() | st.characters(categories=["Cs"]) | st.just("\x00"), max_size=12).map("".join)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | any_text
    | st.sampled_from(["2025-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "WELL-001"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3),
    max_leaves=8,
)
# A valid reading with one field replaced by any JSON value, removed, or joined by an odd key.
hostile_reading = st.tuples(st.sampled_from(READING_FIELDS + [None]), json_values, any_text)


def hostile_document(field, value, extra_key):
    document = reading()
    if field is None:
        document[extra_key] = value
    elif value is None and extra_key == "":
        document.pop(field, None)
    else:
        document[field] = value
    return document


def check_never_crashes(body):
    """Each parse function decodes ``body`` or raises MalformedPayload; validation answers rows or
    InvalidReadings whose errors encode as UTF-8 JSON. Anything else fails the test."""
    for parse in (parse_reading, parse_batch, parse_payload_for_well):
        try:
            parsed = parse(body)
        except MalformedPayload as error:
            rendered(str(error))
            continue
        readings = parsed if isinstance(parsed, list) else [parsed]
        try:
            validate_readings(readings)
        except InvalidReadings as error:
            rendered(error.errors)


@pytest.mark.usefixtures("well")
def test_no_json_document_makes_parsing_or_validation_crash():
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(hostile_reading, min_size=1, max_size=3), json_values)
    def check(readings, anything):
        documents = [hostile_document(*generated) for generated in readings]
        check_never_crashes(as_json(documents[0]))
        check_never_crashes(as_json({"readings": documents}))
        check_never_crashes(as_json(documents))
        check_never_crashes(as_json(anything))
        check_never_crashes(json.dumps(documents[0], ensure_ascii=False).encode("utf-8", "surrogatepass"))

    check()


@pytest.mark.usefixtures("well")
def test_no_bytes_make_parsing_or_validation_crash():
    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200) | st.builds(lambda b: b'{"readings": [' + b + b"]}", st.binary(max_size=100)))
    def check(body):
        check_never_crashes(body)

    check()
