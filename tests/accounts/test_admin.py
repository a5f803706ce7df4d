"""Django admin: the role is visible and settable on users and opens the admin with the role's
rights; the audit log is read-only."""

import datetime

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import users
from accounts.admin_access import check_role_declarations
from accounts.models import AuthEvent
from accounts.roles import Role, account_role
from tests.accounts.auth_calls import NEW_PASSWORD, USERS_URL, login, me
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_session(db):
    """A browser signed in to the admin as a new user given ``role`` the way the API and the admin
    give roles (``accounts.users``); returns (client, user)."""

    def _admin_session(role, username=None):
        user = users.create_user(
            username=username or f"{role}_engineer", password=TEST_PASSWORD, role=Role[role.upper()]
        )
        browser = Client()
        browser.force_login(user)
        return browser, user

    return _admin_session


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


# --- What each role may do in the admin --------------------------------------------------------------

ADMIN_INDEX_LINKS = {
    "wells": 'href="/admin/wells/well/"',
    "add well": 'href="/admin/wells/well/add/"',
    "users": 'href="/admin/auth/user/"',
    "groups": 'href="/admin/auth/group/"',
    "audit log": 'href="/admin/accounts/authevent/"',
    "periodic tasks": 'href="/admin/django_celery_beat/periodictask/"',
    "token blacklist": 'href="/admin/token_blacklist/outstandingtoken/"',
}


@pytest.mark.parametrize(
    ("role", "listed"),
    [
        ("viewer", {"wells"}),
        ("operator", {"wells", "add well"}),
        ("admin", {"wells", "add well", "users", "groups", "audit log"}),
    ],
)
def test_it_opens_the_admin_to_every_role_listing_only_what_the_role_may_use(admin_session, role, listed):
    browser, _ = admin_session(role)
    response = browser.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    shown = {name for name, link in ADMIN_INDEX_LINKS.items() if link in page}
    assert shown == listed


def test_it_opens_the_admin_to_a_user_given_a_role_through_the_api(admin_client_api):
    response = admin_client_api.post(
        USERS_URL, {"username": "nadia_new", "password": NEW_PASSWORD, "role": "viewer"}, format="json"
    )
    assert response.status_code == 201
    browser = Client()
    assert browser.login(username="nadia_new", password=NEW_PASSWORD)
    assert browser.get("/admin/wells/well/").status_code == 200


def test_it_closes_the_admin_to_a_user_whose_role_is_taken_away(admin_session):
    browser, admin = admin_session("admin")
    vera_browser, vera = admin_session("viewer", "vera")
    response = browser.post(f"/admin/auth/user/{vera.pk}/change/", change_form(vera, role=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert vera_browser.get("/admin/wells/well/").status_code == 302  # to the sign-in page
    vera.refresh_from_db()
    assert not vera.is_staff


def test_it_keeps_a_role_holder_staff_when_the_box_is_unticked(admin_session):
    browser, _ = admin_session("admin")
    _, omar = admin_session("operator", "omar")
    response = browser.post(f"/admin/auth/user/{omar.pk}/change/", change_form(omar, role="operator"))
    assert response.status_code == 302  # the form posted no is_staff: the role keeps it on
    omar.refresh_from_db()
    assert omar.is_staff


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_it_keeps_viewers_and_operators_away_from_users_and_groups(admin_session, role):
    browser, user = admin_session(role)
    other = UserFactory(username="someone")
    assert browser.get("/admin/auth/user/").status_code == 403
    assert browser.get("/admin/auth/group/").status_code == 403
    assert browser.post(f"/admin/auth/user/{user.pk}/change/", change_form(user, role="admin")).status_code == 403
    assert browser.post(f"/admin/auth/user/{other.pk}/delete/", {"post": "yes"}).status_code == 403
    assert account_role(user) is Role[role.upper()]
    assert User.objects.filter(username="someone").exists()


def test_it_lets_an_admin_add_a_user_with_a_role_who_can_then_use_the_admin(admin_session):
    browser, _ = admin_session("admin")
    response = browser.post(
        "/admin/auth/user/add/",
        {
            "username": "olga_operator",
            "role": "operator",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    olga = Client()
    assert olga.login(username="olga_operator", password=NEW_PASSWORD)
    assert olga.get("/admin/wells/well/add/").status_code == 200


def test_it_lets_an_admin_change_a_role_but_not_make_anyone_superuser(admin_session):
    browser, admin = admin_session("admin")
    _, vera = admin_session("viewer", "vera")
    response = browser.post(
        f"/admin/auth/user/{vera.pk}/change/", change_form(vera, role="operator", is_superuser="on")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    vera.refresh_from_db()
    assert account_role(vera) is Role.OPERATOR and not vera.is_superuser
    response = browser.post(
        f"/admin/auth/user/{admin.pk}/change/", change_form(admin, role="admin", is_superuser="on", is_staff="on")
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert not admin.is_superuser


def test_it_leaves_a_superusers_account_to_superusers(admin_session):
    browser, _ = admin_session("admin")
    root = User.objects.create_superuser("root", password=TEST_PASSWORD)
    page = browser.get(f"/admin/auth/user/{root.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert browser.post(f"/admin/auth/user/{root.pk}/change/", change_form(root, role="admin")).status_code == 403
    body = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert browser.post(f"/admin/auth/user/{root.pk}/password/", body).status_code == 403
    assert browser.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.check_password(TEST_PASSWORD)


def test_it_lets_an_admin_hand_out_only_permissions_they_hold(admin_session):
    browser, _ = admin_session("admin")
    _, vera = admin_session("viewer", "vera")
    schedulers = Group.objects.create(name="schedulers")
    schedulers.permissions.add(Permission.objects.get(codename="change_periodictask"))
    vera.groups.add(schedulers)
    edit_tasks = Permission.objects.get(codename="add_periodictask")
    response = browser.post(
        f"/admin/auth/user/{vera.pk}/change/", change_form(vera, role="viewer", user_permissions=[edit_tasks.pk])
    )
    assert response.status_code == 200  # the form again, with an error
    assert "Select a valid choice" in response.content.decode()
    assert not vera.user_permissions.exists()
    # Saving her form keeps the group the admin can't grant (the widget didn't offer it).
    response = browser.post(f"/admin/auth/user/{vera.pk}/change/", change_form(vera, role="viewer", groups=[]))
    assert response.status_code == 302
    assert set(vera.groups.values_list("name", flat=True)) == {"viewer", "schedulers"}
    assert browser.post(f"/admin/auth/group/{schedulers.pk}/delete/", {"post": "yes"}).status_code == 403


def test_it_shows_the_role_groups_read_only_even_to_admins(admin_session):
    browser, _ = admin_session("admin")
    operators = Group.objects.get(name="operator")
    delete_well = Permission.objects.get(codename="delete_well")
    page = browser.get(f"/admin/auth/group/{operators.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    body = {"name": "operator", "permissions": [delete_well.pk]}
    assert browser.post(f"/admin/auth/group/{operators.pk}/change/", body).status_code == 403
    assert browser.post(f"/admin/auth/group/{operators.pk}/delete/", {"post": "yes"}).status_code == 403
    assert not operators.permissions.filter(pk=delete_well.pk).exists()
    assert Group.objects.filter(name="operator").exists()


def test_it_sets_the_role_groups_admin_rights_again_on_every_migrate():
    operators = Group.objects.get(name="operator")
    operators.permissions.set([Permission.objects.get(codename="delete_well")])
    stray = UserFactory(username="stray", role="viewer")  # put in the group without accounts.users
    call_command("migrate", verbosity=0)
    codenames = set(operators.permissions.filter(content_type__app_label="wells").values_list("codename", flat=True))
    assert codenames == {"view_well", "add_well", "change_well"}
    stray.refresh_from_db()
    assert stray.is_staff


def test_its_checks_name_a_declared_model_that_does_not_exist(monkeypatch):
    monkeypatch.setattr(apps.get_app_config("wells"), "operator_editable_models", ["wel"])
    errors = check_role_declarations()
    assert [error.id for error in errors] == ["accounts.E001"]
    assert "'wel'" in errors[0].msg


def test_its_checks_name_an_app_of_the_project_that_declares_no_admin_rights(monkeypatch):
    monkeypatch.delattr(type(apps.get_app_config("analytics")), "operator_editable_models")
    errors = check_role_declarations()
    assert [(error.id, error.obj.label) for error in errors] == [("accounts.W001", "analytics")]


def test_it_keeps_a_sign_in_made_while_the_user_form_was_open(staff_client, viewer):
    viewer.last_login = timezone.now() - datetime.timedelta(days=30)
    viewer.save(update_fields=["last_login"])
    local_last_login = timezone.localtime(viewer.last_login)
    opened_with = change_form(
        viewer,
        role="viewer",
        last_login_0=local_last_login.strftime("%Y-%m-%d"),
        last_login_1=local_last_login.strftime("%H:%M:%S"),
    )
    assert login("vera_viewer").status_code == 200  # she signs in while the form is open
    viewer.refresh_from_db()
    signed_in_at = viewer.last_login
    response = staff_client.post(f"/admin/auth/user/{viewer.pk}/change/", opened_with)
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.last_login == signed_in_at
