import pytest

from tests.factories import WellFactory

pytestmark = pytest.mark.django_db


def test_it_renders_the_well_changelist_with_readable_columns(staff_client):
    WellFactory(well_id="WELL-321", name="Abqaiq 21", min_operating_flow_bpd=1000, max_operating_flow_bpd=1900)
    response = staff_client.get("/admin/wells/well/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "WELL-321" in page
    assert "1,000 – 1,900" in page


def test_it_searches_and_filters_wells(staff_client):
    WellFactory(well_id="WELL-401", name="Shaybah 5", status="maintenance")
    WellFactory(well_id="WELL-402", name="Manifa 8", status="active")
    page = staff_client.get("/admin/wells/well/", {"q": "Shaybah"}).content.decode()
    assert "WELL-401" in page and "WELL-402" not in page
    page = staff_client.get("/admin/wells/well/", {"status__exact": "active"}).content.decode()
    assert "WELL-402" in page and "WELL-401" not in page


def test_it_shows_a_field_error_when_the_range_is_inverted(staff_client):
    well = WellFactory()
    response = staff_client.post(
        f"/admin/wells/well/{well.pk}/change/",
        {
            "well_id": well.well_id,
            "name": well.name,
            "field": well.field,
            "status": well.status,
            "install_date": "2024-01-01",
            "timezone": "UTC",
            "latitude": "25.5",
            "longitude": "49.2",
            "pump_model": "X",
            "pump_stages": 100,
            "rated_flow_bpd": 1000,
            "min_operating_flow_bpd": 2000,
            "max_operating_flow_bpd": 900,
            "motor_nameplate_current_a": 40,
            "motor_temp_limit_c": 150,
            "vibration_limit_mm_s": 7,
        },
    )
    assert response.status_code == 200  # the form is shown again, not saved
    assert "must not exceed the maximum" in response.content.decode()
    well.refresh_from_db()
    assert well.min_operating_flow_bpd == 700.0
