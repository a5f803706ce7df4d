"""Wells in the Django admin: readable columns, search, validation, and what each role may do."""

import pytest
from django.test import Client

from accounts import users
from accounts.roles import Role
from tests.factories import TEST_PASSWORD, WellFactory
from wells.models import Well

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_session(db):
    """A browser signed in to the admin as a new user given ``role`` the way the API and the admin give
    roles (``accounts.users``)."""

    def _admin_session(role):
        user = users.create_user(username=f"{role}_engineer", password=TEST_PASSWORD, role=Role[role.upper()])
        browser = Client()
        browser.force_login(user)
        return browser

    return _admin_session


def well_form(well, **changes):
    """The POST body of the well change page, as the browser sends it."""
    body = {
        "well_id": well.well_id,
        "name": well.name,
        "field": well.field,
        "status": well.status,
        "install_date": well.install_date.isoformat(),
        "timezone": well.timezone,
        "latitude": str(well.latitude),
        "longitude": str(well.longitude),
        "pump_model": well.pump_model,
        "pump_stages": well.pump_stages,
        "rated_flow_bpd": well.rated_flow_bpd,
        "min_operating_flow_bpd": well.min_operating_flow_bpd,
        "max_operating_flow_bpd": well.max_operating_flow_bpd,
        "motor_nameplate_current_a": well.motor_nameplate_current_a,
        "motor_temp_limit_c": well.motor_temp_limit_c,
        "vibration_limit_mm_s": well.vibration_limit_mm_s,
    }
    body.update(changes)
    return body


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


def test_it_lets_a_viewer_browse_wells_and_change_nothing(admin_session, well):
    browser = admin_session("viewer")
    assert "WELL-001" in browser.get("/admin/wells/well/").content.decode()
    page = browser.get(f"/admin/wells/well/{well.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert browser.get(f"/admin/wells/well/{well.pk}/readings/").status_code == 200
    renamed = well_form(well, name="Renamed by a viewer")
    assert browser.post(f"/admin/wells/well/{well.pk}/change/", renamed).status_code == 403
    assert browser.post("/admin/wells/well/add/", well_form(well, well_id="WELL-777")).status_code == 403
    assert browser.post(f"/admin/wells/well/{well.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(Well.objects.values_list("well_id", "name")) == [("WELL-001", "Ghawar North 1")]


def test_it_lets_an_operator_add_and_edit_wells_but_not_delete_them(admin_session, well):
    browser = admin_session("operator")
    response = browser.post(f"/admin/wells/well/{well.pk}/change/", well_form(well, status="maintenance"))
    assert response.status_code == 302, response.content.decode()[:2000]
    well.refresh_from_db()
    assert well.status == "maintenance"
    response = browser.post("/admin/wells/well/add/", well_form(well, well_id="WELL-777", name="Khurais 7"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert browser.post(f"/admin/wells/well/{well.pk}/delete/", {"post": "yes"}).status_code == 403
    # The list's bulk action isn't offered either.
    browser.post("/admin/wells/well/", {"action": "delete_selected", "_selected_action": [well.pk], "post": "yes"})
    assert set(Well.objects.values_list("well_id", flat=True)) == {"WELL-001", "WELL-777"}


def test_it_lets_an_admin_delete_a_well(admin_session, well):
    browser = admin_session("admin")
    response = browser.post(f"/admin/wells/well/{well.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Well.objects.exists()
