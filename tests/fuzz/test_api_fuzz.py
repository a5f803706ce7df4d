"""Schemathesis fuzzes every operation of the published OpenAPI schema, each generated request sent as
anonymous, viewer, operator and admin with real tokens, through the whole WSGI stack in process.

Checked on every answer: no 5xx; the status is one the operation documents; the content type, headers
and body match the documented schema; data that breaks the schema is refused with a 4xx; every 4xx from
/api/ has the API's error body (tests/api_error_body.py).

The number of examples is bounded and the generation seeded (``derandomize``), so ``make test`` runs
the same cases every time; ``make fuzz`` runs many more (``FUZZ_EXAMPLES``).
"""

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import issue_tokens
from alarms import lifecycle
from analytics.models import DiagnosticType
from tests.api_error_body import error_body_problems
from tests.config.openapi_responses import published_schema
from tests.factories import UserFactory, WellFactory
from tests.fuzz.conftest import TALLY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_process_requests")]

# Examples per operation (each sent as every caller): 6 in `make test`, FUZZ_EXAMPLES in `make fuzz`.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CALLERS = ("anonymous", "viewer", "operator", "admin")
# Role users get ids a fuzzer's integers rarely hit, so PATCH /auth/users/{id} seldom demotes a caller.
CALLER_IDS = {"viewer": 900_001, "operator": 900_002, "admin": 900_003}
SUBJECT_ID = 900_010

SCHEMA = schemathesis.openapi.from_dict(published_schema())
OPERATIONS = sorted((operation.ok() for operation in SCHEMA.get_all_operations()), key=lambda op: (op.path, op.method))


@pytest.fixture
def fleet(db):
    """One well with an open alarm, a user to act on, and the callers; ids for the path parameters."""
    well = WellFactory(well_id="WELL-001")
    alarm = lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, "critical", at=well.created_at)
    UserFactory(id=SUBJECT_ID, username="sam_subject", role="viewer")
    callers = {role: UserFactory(id=pk, username=f"fuzz_{role}", role=role) for role, pk in CALLER_IDS.items()}
    return {"well_id": well.well_id, "id": alarm.alarm.pk}, callers


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_fuzz(operation, fleet, wsgi_app):
    known_ids, callers = fleet
    known = {name: known_ids[name] for name in re.findall(r"{(\w+)}", operation.path) if name in known_ids}
    if operation.path.startswith("/api/v1/auth/users/"):
        known["id"] = SUBJECT_ID
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        # Schema-breaking bodies as JSON only: in form encodings DRF reads a blank optional field as left out
        # (the HTML form convention), which the fuzzer would take for accepting a value that breaks the schema.
        operation.as_strategy(GenerationMode.NEGATIVE).filter(sent_as_generated),
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known) if known else st.nothing(),
    )
    gaps = []
    TALLY["operations"] += 1

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=cases)
    def fuzz(case):
        TALLY["cases"] += 1
        for caller in CALLERS:
            headers = {}
            if caller != "anonymous":
                headers["Authorization"] = f"Bearer {issue_tokens(callers[caller]).access_token}"
            response = case.call(app=wsgi_app, headers=headers)
            TALLY["requests"] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
            if 400 <= response.status_code < 500 and case.path.startswith("/api/"):
                answered = {name.lower(): values[0] for name, values in response.headers.items()}
                for problem in error_body_problems(response.status_code, json_or_none(response), answered):
                    gaps.append(f"{caller} {case.method} {case.formatted_path}: {problem}")

    fuzz()
    TALLY["error_body_gaps"] += len(gaps)
    assert not gaps, "\n".join(gaps)


def sent_as_generated(case):
    """False for a schema-breaking case that would not reach the API as generated: a query value left out of
    the URL (None, [] or {}), or a body in a form encoding (see above)."""
    in_form = case.media_type is not None and case.media_type != "application/json"
    return not in_form and all(value not in (None, [], {}) for value in (case.query or {}).values())


def json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None
