"""Properties of ingestion over HTTP, checked on generated traffic with hypothesis.

- Every reading acknowledged with 201/200 is in the table exactly once, with the values of the first
  acknowledgement for its (well, time).
- A rejected batch leaves the table exactly as it was.
"""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.models import Reading
from tests.telemetry.conftest import reading, stored_readings

pytestmark = pytest.mark.django_db

WELLS = ("WELL-001", "WELL-002")
BASE = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0) - datetime.timedelta(days=3)

# A small space of (well, minute) keys, so generated traffic repeats itself often.
generated_reading = st.fixed_dictionaries(
    {
        "well": st.sampled_from(WELLS),
        "minute": st.integers(min_value=0, max_value=40),
        "flow_rate": st.floats(min_value=0, max_value=5_000, allow_nan=False),
        "valid": st.booleans() | st.just(True),  # mostly valid
    }
)
request = st.tuples(st.sampled_from(["batch", "single"]), st.lists(generated_reading, min_size=1, max_size=25))


def as_payload(generated):
    moment = BASE + datetime.timedelta(minutes=generated["minute"])
    flow = generated["flow_rate"] if generated["valid"] else -1.0
    return reading(generated["well"], moment, flow_rate=flow)


@pytest.mark.usefixtures("well", "second_well")
def test_every_acknowledged_reading_is_stored_exactly_once_and_rejections_change_nothing(operator_client):
    expected = {}  # (well, time) -> flow_rate of the first acknowledged reading

    @settings(max_examples=60, deadline=None)
    @given(request)
    def check(traffic):
        kind, generated = traffic
        payloads = [as_payload(g) for g in generated]
        before = stored_readings()
        if kind == "batch":
            response = operator_client.post("/api/v1/telemetry/batch", {"readings": payloads}, format="json")
            acknowledged = response.status_code == 201
            assert response.status_code in (201, 400)
            if acknowledged:
                body = response.json()
                new_keys = {(p["well_id"], p["timestamp"]) for p in payloads} - {
                    (well, time.isoformat().replace("+00:00", "Z")) for well, time in before
                }
                assert body["received"] == len(payloads)
                assert body["inserted"] == len(new_keys)
                assert body["duplicates"] == len(payloads) - len(new_keys)
        else:
            payloads = payloads[:1]
            response = operator_client.post("/api/v1/telemetry/ingest", payloads[0], format="json")
            acknowledged = response.status_code in (200, 201)
            assert response.status_code in (200, 201, 400)

        if acknowledged:
            for generated_one in generated[: len(payloads)]:
                key = (generated_one["well"], BASE + datetime.timedelta(minutes=generated_one["minute"]))
                expected.setdefault(key, generated_one["flow_rate"])
        else:
            assert any(not g["valid"] for g in generated[: len(payloads)])
            assert stored_readings() == before

        assert stored_readings() == expected
        assert Reading.objects.count() == len(expected)  # exactly once: no row twice

    check()
