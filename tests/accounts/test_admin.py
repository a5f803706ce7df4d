"""Django admin: the role is visible and settable on users; the audit log is read-only."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import AuthEvent
from tests.accounts.auth_calls import NEW_PASSWORD, login, me
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def change_form(user, **changes):
    """The POST body of the admin's user change page, as the browser would send it unchanged."""
    body = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": [group.pk for group in user.groups.exclude(name__in=["admin", "operator", "viewer"])],
    }
    if user.is_active:
        body["is_active"] = "on"
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def test_it_shows_each_users_role_in_the_list_and_filters_by_it(staff_client, viewer, operator):
    page = staff_client.get("/admin/auth/user/").content.decode()
    assert "vera_viewer" in page and "omar_operator" in page
    assert '<td class="field-role">viewer</td>' in page
    page = staff_client.get("/admin/auth/user/", {"role": "operator"}).content.decode()
    assert "omar_operator" in page and "vera_viewer" not in page


def test_it_shows_the_current_role_on_the_change_page(staff_client, operator):
    page = staff_client.get(f"/admin/auth/user/{operator.pk}/change/").content.decode()
    assert "Platform role" in page
    assert '<option value="operator" selected>' in page


def test_it_changes_the_role_from_the_change_page_and_audits_who_did_it(staff_client, viewer):
    other_group = Group.objects.create(name="field engineers")
    viewer.groups.add(other_group)
    response = staff_client.post(f"/admin/auth/user/{viewer.pk}/change/", change_form(viewer, role="operator"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(viewer.groups.values_list("name", flat=True)) == {"operator", "field engineers"}
    event = AuthEvent.objects.get(event="role_changed", username="vera_viewer")
    assert event.details == {"from": "viewer", "to": "operator"}
    assert event.actor.username == "engineer"


def test_it_refuses_a_lower_role_for_a_superuser(staff_client):
    root = User.objects.get(username="engineer")
    body = change_form(root, role="viewer", is_superuser="on", is_staff="on")
    page = staff_client.post(f"/admin/auth/user/{root.pk}/change/", body).content.decode()
    assert "A superuser is always an admin" in page


def test_it_revokes_the_tokens_of_a_user_deactivated_in_admin(staff_client, viewer):
    session = login("vera_viewer").json()
    response = staff_client.post(
        f"/admin/auth/user/{viewer.pk}/change/", change_form(viewer, role="viewer", is_active=None)
    )
    assert response.status_code == 302
    assert me(session["access_token"]).status_code == 401
    assert AuthEvent.objects.filter(event="user_deactivated", actor__username="engineer").exists()


def test_it_revokes_the_tokens_of_a_user_whose_password_is_set_in_admin(staff_client, viewer):
    session = login("vera_viewer").json()
    response = staff_client.post(
        f"/admin/auth/user/{viewer.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    assert me(session["access_token"]).status_code == 401
    assert login("vera_viewer", NEW_PASSWORD).status_code == 200


def test_it_signs_a_user_out_everywhere_from_the_list(staff_client, viewer):
    session = login("vera_viewer").json()
    staff_client.post("/admin/auth/user/", {"action": "revoke_tokens", "_selected_action": [viewer.pk]})
    assert me(session["access_token"]).status_code == 401


def test_it_adds_a_user_with_a_role(staff_client):
    response = staff_client.post(
        "/admin/auth/user/add/",
        {
            "username": "nora_new",
            "role": "viewer",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert login("nora_new", NEW_PASSWORD).json()["user"]["role"] == "viewer"


def test_it_keeps_the_audit_log_read_only(staff_client, viewer):
    login("vera_viewer", "wrong-password-0000")
    event = AuthEvent.objects.get(event="login_failed")
    page = staff_client.get("/admin/accounts/authevent/", {"event__exact": "login_failed"}).content.decode()
    assert "vera_viewer" in page and "By event" in page
    assert staff_client.get("/admin/accounts/authevent/add/").status_code == 403
    assert staff_client.post(f"/admin/accounts/authevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = staff_client.get(f"/admin/accounts/authevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in detail
    assert AuthEvent.objects.filter(pk=event.pk).exists()


def test_it_keeps_staff_without_user_rights_out_of_users(client):
    staff = UserFactory(username="clerk", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/auth/user/").status_code == 403
