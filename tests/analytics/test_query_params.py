"""Analytics query parameters: a parameter given empty is refused naming it, like any other bad value."""

import pytest

from tests.api_errors import named_errors

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/analytics/ranking/efficiency", "order"),
        ("/api/v1/analytics/ranking/health", "order"),
        ("/api/v1/analytics/ranking/health", "limit"),
        ("/api/v1/analytics/ranking/health", "hours"),
        ("/api/v1/analytics/overview", "hours"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", "hours"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", "bucket"),
        ("/api/v1/analytics/telemetry/hourly/WELL-001", "start"),
        ("/api/v1/analytics/telemetry/daily/WELL-001", "days"),
        ("/api/v1/analytics/performance/WELL-001", "hours"),
        ("/api/v1/analytics/diagnostics/WELL-001", "days"),
    ],
)
def test_an_empty_parameter_is_a_400_naming_it(viewer_client, well, url, parameter):
    response = viewer_client.get(f"{url}?{parameter}=")
    assert response.status_code == 400, response.content[:300]
    assert list(named_errors(response)) == [parameter]


def test_a_ranking_order_is_still_optional(viewer_client):
    response = viewer_client.get("/api/v1/analytics/ranking/efficiency")
    assert response.status_code == 200
    assert response.json()["order"] == "desc"


def test_an_unknown_ranking_order_names_the_choices(viewer_client):
    response = viewer_client.get("/api/v1/analytics/ranking/health?order=best")
    assert response.status_code == 400
    assert named_errors(response) == {"order": ['"best" is not a valid choice; use one of: asc, desc.']}
