"""Decoding and validation rules of telemetry.ingest: every bad reading is named by index and field."""

import datetime
import json

import pytest

from telemetry.ingest import (
    MAX_REPORTED_ERRORS,
    InvalidReadings,
    MalformedPayload,
    ReadingIn,
    ingest_readings,
    parse_batch,
    parse_payload,
    parse_reading,
)
from telemetry.models import Reading
from tests.factories import WellFactory
from tests.telemetry.conftest import batch_body, reading

pytestmark = pytest.mark.django_db

HOUR_AGO = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)


def rejection_of(readings):
    """The InvalidReadings raised for a batch whose readings are given as dicts (or raw JSON text)."""
    body = readings if isinstance(readings, bytes) else batch_body(readings)
    with pytest.raises(InvalidReadings) as caught:
        ingest_readings(parse_batch(body))
    return caught.value


@pytest.mark.parametrize(
    ("bad_fields", "field", "message"),
    [
        ({"well_id": "WELL-999"}, "well_id", "unknown well 'WELL-999'"),
        ({"well_id": ...}, "well_id", "required field is missing"),
        ({"flow_rate": ...}, "flow_rate", "required field is missing"),
        ({"pip": ...}, "pip", "required field is missing"),
        ({"motor_current": None}, "motor_current", "must be a number, got null"),
        ({"pip": "812"}, "pip", "must be a number, got a string"),
        ({"vibration": True}, "vibration", "must be a number or null, got true/false"),
        ({"timestamp": 1717230600}, "timestamp", "must be an RFC 3339 timestamp string, got an integer"),
        ({"timestamp": "yesterday"}, "timestamp", "is not an RFC 3339 timestamp"),
        ({"timestamp": "2025-06-01T08:30:00"}, "timestamp", "has no time zone"),
        ({"flow_rate": -1.0}, "flow_rate", "must not be negative"),
        ({"motor_current": -0.5}, "motor_current", "must not be negative"),
        ({"vibration": -2}, "vibration", "must not be negative"),
        ({"flow_rate": 150_000}, "flow_rate", "must be at most 100,000 bbl/d"),
        ({"pip": 25_000}, "pip", "must be at most 20,000 psi"),
        ({"discharge_pressure": -20}, "discharge_pressure", "must be at least -15 psi"),
        ({"motor_temp": 350}, "motor_temp", "must be at most 300 °C"),
        ({"motor_temp": -60}, "motor_temp", "must be at least -40 °C"),
        ({"motor_current": 2500}, "motor_current", "must be at most 2,000 A"),
        ({"vibration": 250}, "vibration", "must be at most 200 mm/s"),
        ({"flow_rte": 5}, "flow_rte", "unknown field"),
    ],
)
def test_it_names_the_index_and_field_of_each_rule_broken(well, bad_fields, field, message):
    good = reading()
    bad = reading(time=HOUR_AGO - datetime.timedelta(minutes=5), **bad_fields)
    rejection = rejection_of([good, bad])
    assert rejection.errors[0]["index"] == 1
    assert rejection.errors[0]["field"] == field
    assert message in rejection.errors[0]["message"]
    assert rejection.invalid_count == 1
    assert Reading.objects.count() == 0


@pytest.mark.parametrize(("literal", "shown"), [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")])
def test_it_rejects_nan_and_infinity_by_field(well, literal, shown):
    good = json.dumps(reading())
    bad = json.dumps(reading(pip=123.0)).replace("123.0", literal)
    rejection = rejection_of(f'{{"readings": [{good}, {bad}]}}'.encode())
    assert rejection.errors == [
        {"index": 1, "field": "pip", "message": f"must be a finite number, got {shown}", "code": "not_finite"}
    ]


def test_it_rejects_numbers_too_large_for_a_float(well):
    bad = json.dumps(reading(pip=1.0)).replace('"pip": 1.0', '"pip": 1e999')
    assert rejection_of(f'{{"readings": [{bad}]}}'.encode()).errors[0]["field"] == "pip"


def test_it_rejects_timestamps_more_than_five_minutes_ahead(well, now):
    ahead = [reading(time=now + datetime.timedelta(minutes=4)), reading(time=now + datetime.timedelta(minutes=6))]
    rejection = rejection_of(ahead)
    assert rejection.errors == [
        {"index": 1, "field": "timestamp", "message": "is more than 5 minutes in the future", "code": "in_future"}
    ]


def test_it_rejects_readings_before_the_install_date_in_the_wells_time_zone(db, now):
    installed = (now - datetime.timedelta(days=10)).date()
    WellFactory(well_id="RYD-0042", install_date=installed, timezone="Asia/Riyadh")  # UTC+3
    local_midnight_utc = datetime.datetime.combine(installed, datetime.time.min, tzinfo=datetime.UTC) - (
        datetime.timedelta(hours=3)
    )
    readings = [
        reading("RYD-0042", local_midnight_utc),  # 00:00 in Riyadh on the install date
        reading("RYD-0042", local_midnight_utc - datetime.timedelta(seconds=1)),
    ]
    rejection = rejection_of(readings)
    assert [(error["index"], error["field"]) for error in rejection.errors] == [(1, "timestamp")]
    assert f"before the well's install date {installed} (Asia/Riyadh)" in rejection.errors[0]["message"]


def test_it_rejects_readings_older_than_the_retention_window(well, now, settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    rejection = rejection_of([reading(time=now - datetime.timedelta(days=31))])
    assert rejection.errors[0]["field"] == "timestamp"
    assert "30-day retention window" in rejection.errors[0]["message"]


def test_it_lists_every_bad_reading_up_to_the_cap_and_counts_them_all(well):
    readings = [reading(time=HOUR_AGO - datetime.timedelta(seconds=i), flow_rate=-1.0) for i in range(150)]
    readings.insert(0, reading())
    rejection = rejection_of(readings)
    assert len(rejection.errors) == MAX_REPORTED_ERRORS
    assert rejection.error_count == 150 and rejection.invalid_count == 150
    assert [error["index"] for error in rejection.errors] == list(range(1, MAX_REPORTED_ERRORS + 1))


def test_it_reports_several_problems_of_one_reading(well):
    rejection = rejection_of([reading("WELL-999", flow_rate=-5, vibration=900)])
    assert [error["field"] for error in rejection.errors] == ["well_id", "flow_rate", "vibration"]


def test_it_accepts_z_and_offsets_and_stores_utc(well):
    ingest_readings(
        parse_batch(
            batch_body(
                [
                    reading(time="2026-06-01T11:30:00+03:00"),
                    reading(time="2026-06-01T09:30:00Z"),
                    reading(time="2026-06-01T05:30:00.250-04:00"),
                ]
            )
        ),
        now=datetime.datetime(2026, 6, 2, tzinfo=datetime.UTC),
    )
    stored = sorted(Reading.objects.values_list("time", flat=True))
    assert [moment.isoformat() for moment in stored] == [
        "2026-06-01T08:30:00+00:00",
        "2026-06-01T09:30:00+00:00",
        "2026-06-01T09:30:00.250000+00:00",
    ]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"", "The body is empty"),
        (b'{"readings": [{"well_id": "WELL-001",}]}', "Malformed JSON: Expecting property name"),
        (b"[1, 2]", 'Expected a JSON object {"readings": [ ... ]}'),
        (b'{"reading": []}', 'Expected a JSON object {"readings": [ ... ]}'),
        (b'{"readings": [], "source": "rtu"}', "Unknown top-level field(s): source"),
        (b"\xff\xfe{", "Malformed JSON"),
    ],
)
def test_it_refuses_a_body_that_is_not_a_batch(body, complaint):
    with pytest.raises(MalformedPayload) as caught:
        parse_batch(body)
    assert complaint in str(caught.value)


def test_it_refuses_a_batch_over_the_limit():
    with pytest.raises(MalformedPayload, match="at most 2 readings; this one has 3"):
        parse_batch(batch_body([reading()] * 3), max_readings=2)


def test_it_reports_a_reading_that_is_not_an_object(well):
    rejection = rejection_of(b'{"readings": [42]}')
    assert rejection.errors == [
        {
            "index": 0,
            "field": None,
            "message": "each reading must be a JSON object, got an integer",
            "code": "not_an_object",
        }
    ]


def test_a_single_reading_decodes_the_same_way(well):
    assert isinstance(parse_reading(json.dumps(reading()).encode()), ReadingIn)
    with pytest.raises(MalformedPayload):
        parse_reading(b"[]")


def test_mqtt_payloads_take_the_well_from_the_topic(well):
    single = {key: value for key, value in reading().items() if key != "well_id"}
    readings = parse_payload(json.dumps(single).encode(), well_id="WELL-001")
    assert readings[0].well_id == "WELL-001"
    many = [single | {"timestamp": f"2026-06-01T0{i}:00:00Z"} for i in range(3)]
    assert [r.well_id for r in parse_payload(json.dumps(many).encode(), well_id="WELL-001")] == ["WELL-001"] * 3


def test_mqtt_payloads_naming_another_well_are_rejected(well):
    readings = parse_payload(json.dumps([reading("WELL-002")]).encode(), well_id="WELL-001")
    with pytest.raises(InvalidReadings) as caught:
        ingest_readings(readings)
    assert caught.value.errors[0]["field"] == "well_id"
    assert "does not match the topic's well WELL-001" in caught.value.errors[0]["message"]


def test_readings_built_in_python_are_checked_too(well):
    naive = ReadingIn(
        well_id="WELL-001", timestamp=datetime.datetime(2026, 6, 1), flow_rate=1.0, pip=1.0, motor_current=1.0
    )
    with pytest.raises(InvalidReadings) as caught:
        ingest_readings([naive])
    assert caught.value.errors[0]["field"] == "timestamp"
