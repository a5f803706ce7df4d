"""POST /api/v1/telemetry/ingest and /batch as integrators call them."""

import datetime
import json

import pytest

from telemetry.models import Reading
from tests.telemetry.conftest import batch_body, reading, stored_readings

pytestmark = pytest.mark.django_db

INGEST = "/api/v1/telemetry/ingest"
BATCH = "/api/v1/telemetry/batch"


def post(client, url, body, content_type="application/json"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return client.generic("POST", url, body, content_type=content_type)


def test_it_stores_one_reading_and_answers_created(operator_client, well):
    response = post(operator_client, INGEST, reading(time="2026-11-28T08:30:00+03:00"))
    assert response.status_code == 201, response.json()
    assert response.json() == {"status": "created", "well_id": "WELL-001", "timestamp": "2026-11-28T05:30:00Z"}
    assert Reading.objects.count() == 1


def test_a_repeated_reading_is_a_duplicate_and_changes_nothing(operator_client, well, now):
    post(operator_client, INGEST, reading(time=now, flow_rate=900.0))
    response = post(operator_client, INGEST, reading(time=now, flow_rate=1.0))
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert stored_readings() == {("WELL-001", now): 900.0}


def test_it_stores_a_batch_and_counts_duplicates(admin_client_api, well, second_well, now):
    readings = [reading(time=now - datetime.timedelta(minutes=m)) for m in range(5)]
    readings += [reading("WELL-002", now), readings[0]]
    response = post(admin_client_api, BATCH, {"readings": readings})
    assert response.status_code == 201
    assert response.json() == {"received": 7, "inserted": 6, "duplicates": 1}


def test_an_invalid_batch_stores_nothing_and_names_each_bad_reading(operator_client, well, now):
    readings = [
        reading(time=now - datetime.timedelta(minutes=1)),
        reading("WELL-404", now),
        reading(time=now - datetime.timedelta(minutes=2), motor_current=-3),
    ]
    response = post(operator_client, BATCH, {"readings": readings})
    assert response.status_code == 400
    body = response.json()
    assert [(error["index"], error["field"]) for error in body["errors"]] == [(1, "well_id"), (2, "motor_current")]
    assert body["error_count"] == 2 and body["invalid_count"] == 2
    assert "nothing was stored" in body["detail"]
    assert Reading.objects.count() == 0


def test_a_reading_with_four_problems_gets_four_errors(operator_client, well, now):
    bad = reading("WELL-404", now, flow_rate="lots", pip=..., motor_current=-3.0)  # pip left out
    response = post(operator_client, BATCH, {"readings": [reading(time=now - datetime.timedelta(minutes=1)), bad]})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert sorted((e["index"], e["field"], e["code"]) for e in body["errors"]) == [
        (1, "flow_rate", "invalid_type"),
        (1, "motor_current", "min_value"),
        (1, "pip", "required"),
        (1, "well_id", "unknown_well"),
    ]
    assert body["error_count"] == 4 and body["invalid_count"] == 1
    assert Reading.objects.count() == 0


def test_an_invalid_single_reading_names_the_field(operator_client, well):
    response = post(operator_client, INGEST, reading(pip="high"))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "pip", "message": "must be a number, got a string", "code": "invalid_type"}
    ]


def test_malformed_json_is_a_400_naming_the_problem(operator_client, well):
    response = post(operator_client, BATCH, b'{"readings": [')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON: Expecting value at line 1 column 15")


def test_a_batch_over_the_reading_limit_is_refused(operator_client, well, settings, now):
    settings.TELEMETRY_BATCH_MAX = 2
    response = post(operator_client, BATCH, {"readings": [reading(time=now)] * 3})
    assert response.status_code == 400
    assert "at most 2 readings" in response.json()["detail"]


def test_an_oversized_body_is_refused_before_it_is_read(operator_client, well, settings, now):
    settings.TELEMETRY_BATCH_MAX_BYTES = 1024
    body = batch_body([reading(time=now - datetime.timedelta(seconds=s)) for s in range(20)])
    assert len(body) > 1024
    response = post(operator_client, BATCH, body)
    assert response.status_code == 413
    assert "at most 1024" in response.json()["detail"]
    assert Reading.objects.count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415(operator_client, well, content_type):
    response = post(operator_client, INGEST, reading(), content_type=content_type)
    assert response.status_code == 415


def test_json_with_a_charset_is_accepted(operator_client, well):
    assert post(operator_client, INGEST, reading(), content_type="application/json; charset=utf-8").status_code == 201


def test_a_viewer_may_not_ingest(viewer_client, well):
    assert post(viewer_client, INGEST, reading()).status_code == 403
    assert post(viewer_client, BATCH, {"readings": [reading()]}).status_code == 403
    assert Reading.objects.count() == 0


def test_anonymous_callers_must_authenticate(anonymous_client, well):
    response = post(anonymous_client, BATCH, {"readings": [reading()]})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert post(anonymous_client, INGEST, reading()).status_code == 401


def test_the_schema_documents_both_endpoints_with_examples(client):
    schema = client.get("/api/v1/openapi.json").json()
    batch = schema["paths"]["/api/v1/telemetry/batch"]["post"]
    single = schema["paths"]["/api/v1/telemetry/ingest"]["post"]
    assert {"201", "400", "401", "403", "413", "415"} <= set(batch["responses"])
    assert {"200", "201"} <= set(single["responses"])
    assert batch["requestBody"]["content"]["application/json"]["examples"]
    assert "readings" in schema["components"]["schemas"]["TelemetryBatchRequest"]["properties"]
