"""Query parameters across the API (config.params): a bad one is a 400 naming it, a bad choice lists the
choices, and a parameter given empty is refused rather than taken as its default."""

import pytest

pytestmark = pytest.mark.django_db


def messages_by_parameter(body):
    """{parameter: first message}, from the agreed error body or from DRF's {parameter: [messages]}."""
    if isinstance(body.get("errors"), list):
        return {error["field"]: error["message"] for error in body["errors"]}
    return {name: messages[0] for name, messages in body.items()}


@pytest.mark.parametrize(
    ("client_name", "url", "parameter", "choices"),
    [
        ("viewer_client", "/api/v1/analytics/telemetry/hourly/WELL-001?bucket=5m", "bucket", "15m, 1h, 1d"),
        ("viewer_client", "/api/v1/analytics/ranking/health?order=best", "order", "asc, desc"),
        ("viewer_client", "/api/v1/wells/?status=exploded", "status", "active, shut_in, maintenance, decommissioned"),
        ("viewer_client", "/api/v1/alarms/?severity=dire", "severity", "warning, critical"),
        ("admin_client_api", "/api/v1/operations/backups?verification=maybe", "verification", "passed, failed, none"),
        ("viewer_client", "/api/v1/telemetry/readings?well_id=WELL-001&order=sideways", "order", "asc, desc"),
    ],
)
def test_a_value_that_is_not_a_choice_is_refused_listing_the_choices(
    request, well, client_name, url, parameter, choices
):
    response = request.getfixturevalue(client_name).get(url)
    assert response.status_code == 400, response.content[:300]
    message = messages_by_parameter(response.json())[parameter]
    assert message.endswith(f"use one of: {choices}."), message


@pytest.mark.parametrize(
    ("client_name", "url", "parameter"),
    [
        ("viewer_client", "/api/v1/wells/?status=", "status"),
        ("viewer_client", "/api/v1/alarms/?state=", "state"),
        ("viewer_client", "/api/v1/alarms/kpis?days=", "days"),
        ("admin_client_api", "/api/v1/auth/audit?event=", "event"),
        ("viewer_client", "/api/v1/telemetry/readings?well_id=WELL-001&start=", "start"),
    ],
)
def test_a_parameter_given_empty_is_refused_naming_it(request, well, client_name, url, parameter):
    response = request.getfixturevalue(client_name).get(url)
    assert response.status_code == 400, response.content[:300]
    assert list(messages_by_parameter(response.json())) == [parameter]
