"""The change audit trail: who created, changed or deleted which record, from where, before and after."""

import contextlib
import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts import changes
from accounts.audit import _current_request
from accounts.models import AuthEvent, ChangeEvent
from accounts.roles import Role
from accounts.users import set_role
from alarms.models import WebhookReceiver
from tests.factories import UserFactory, WellFactory
from tests.history import rewriting_audit_trail

FROM_FIELD = {"REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": "scada-bridge/2.1"}


def changes_to(instance):
    return list(ChangeEvent.objects.filter(model=instance._meta.label_lower, object_id=str(instance.pk)).order_by("id"))


def test_an_api_change_names_the_caller_and_only_the_fields_that_changed(bearer_client, operator):
    well = WellFactory(well_id="AUDIT-001", status="active")
    client = bearer_client(operator)
    response = client.patch(f"/api/v1/wells/{well.well_id}/", {"status": "shut_in"}, format="json", **FROM_FIELD)
    assert response.status_code == 200, response.json()

    created, changed = changes_to(well)
    assert created.action == "created" and created.via == "system"
    assert changed.action == "changed"
    assert (changed.actor, changed.actor_username, changed.via) == (operator, "omar_operator", "api")
    assert (changed.ip_address, changed.user_agent) == ("203.0.113.9", "scada-bridge/2.1")
    assert changed.request_method == "PATCH" and changed.request_path == f"/api/v1/wells/{well.well_id}/"
    assert (changed.before, changed.after) == ({"status": "active"}, {"status": "shut_in"})


def test_a_save_that_changes_nothing_leaves_no_entry(db):
    well = WellFactory(well_id="AUDIT-002")
    well.save()
    assert [change.action for change in changes_to(well)] == ["created"]


def test_an_admin_edit_and_delete_are_recorded_with_the_admins_name(client, admin_user):
    well = WellFactory(well_id="AUDIT-003", name="Old name")
    set_role(admin_user, Role.ADMIN)  # makes the role holder staff, as migrate does
    client.force_login(admin_user)
    form = {
        field: getattr(well, field)
        for field in ("well_id", "field", "install_date", "timezone", "latitude", "longitude", "pump_model",
                      "pump_stages", "rated_flow_bpd", "min_operating_flow_bpd", "max_operating_flow_bpd",
                      "motor_nameplate_current_a", "motor_temp_limit_c", "vibration_limit_mm_s", "status")
    }  # fmt: skip
    form["name"] = "New name"
    response = client.post(f"/admin/wells/well/{well.pk}/change/", form)
    assert response.status_code == 302 and response.url == "/admin/wells/well/", [
        line for line in response.content.decode().splitlines() if "error" in line.lower()
    ]
    response = client.post(f"/admin/wells/well/{well.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and response.url == "/admin/wells/well/"

    _, changed, deleted = changes_to(well)
    assert (changed.via, changed.actor_username) == ("admin", "ada_admin")
    assert (changed.before, changed.after) == ({"name": "Old name"}, {"name": "New name"})
    assert deleted.action == "deleted" and deleted.after is None
    assert deleted.before["well_id"] == "AUDIT-003"


def test_role_changes_show_the_groups_before_and_after(admin_client_api, viewer):
    earlier = len(changes_to(viewer))
    set_role(viewer, Role.OPERATOR)
    membership = [change for change in changes_to(viewer)[earlier:] if "groups" in change.after]
    assert membership[0].before == {"groups": ["viewer"]}
    assert membership[-1].after == {"groups": ["operator"]}


def test_secrets_and_password_hashes_never_reach_the_trail(db):
    user = UserFactory(username="sam_secret", role="viewer")
    user.set_password("a-brand-new-password-42")
    user.save()
    receiver = WebhookReceiver.objects.create(name="scada", url="https://scada.example/hook")
    receiver.secret = "a-new-shared-secret"
    receiver.save()

    trail = [*changes_to(user), *changes_to(receiver)]
    text = str([(change.before, change.after) for change in trail])
    assert user.password not in text and "a-new-shared-secret" not in text and receiver.url in text
    password_change = next(
        change for change in changes_to(user) if change.action == "changed" and "password" in change.after
    )
    assert password_change.after == {"password": changes.HIDDEN_VALUE}


def test_rows_of_the_trail_cannot_be_edited_or_deleted(db):
    well = WellFactory(well_id="AUDIT-004")
    entry = changes_to(well)[0]
    for statement in (
        "UPDATE accounts_changeevent SET actor_username = 'mallory' WHERE id = %s",
        "DELETE FROM accounts_changeevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="audit trail"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert ChangeEvent.objects.get(pk=entry.pk).actor_username == ""


def test_deleting_an_account_keeps_its_trail_and_the_name(admin_user):
    someone = UserFactory(username="gone_soon", role="viewer")
    well = WellFactory(well_id="AUDIT-005")
    with changes_as(someone):
        well.name = "Renamed"
        well.save()
    someone.delete()
    renamed = changes_to(well)[-1]
    assert renamed.actor is None and renamed.actor_username == "gone_soon"


def test_retention_deletes_only_events_older_than_the_retention(settings, viewer):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old_well = WellFactory(well_id="AUDIT-901")
    with rewriting_audit_trail():  # as if written long ago
        ChangeEvent.objects.filter(object_id=str(old_well.pk)).update(timestamp=now - datetime.timedelta(days=31))
    recent_well = WellFactory(well_id="AUDIT-902")
    sign_ins = AuthEvent.objects.count()

    deleted = changes.prune(now=now)

    assert deleted == 1
    assert changes_to(old_well) == [] and len(changes_to(recent_well)) == 1
    assert AuthEvent.objects.count() == sign_ins


def test_admins_query_the_trail_and_others_are_refused(bearer_client, admin_user, viewer, operator):
    well = WellFactory(well_id="AUDIT-006")
    with changes_as(operator):
        well.status = "maintenance"
        well.save()
    WellFactory(well_id="AUDIT-007")

    response = bearer_client(admin_user).get("/api/v1/auth/changes", {"model": "wells.well", "actor": "omar_operator"})
    assert response.status_code == 200
    rows = response.json()["results"] if "results" in response.json() else response.json()
    assert [(row["object_repr"], row["after"]) for row in rows] == [(str(well), {"status": "maintenance"})]

    assert bearer_client(viewer).get("/api/v1/auth/changes").status_code == 403
    bad = bearer_client(admin_user).get("/api/v1/auth/changes", {"via": "carrier-pigeon"})
    assert bad.status_code == 400 and "via" in str(bad.json())


@contextlib.contextmanager
def changes_as(user):
    """Changes made inside the block are audited as if ``user`` made them through the API, from the field."""
    request = RequestFactory().patch("/api/v1/wells/x", **FROM_FIELD)
    request.user = user
    token = _current_request.set(request)  # what AuditRequestMiddleware does for a real request
    try:
        yield
    finally:
        _current_request.reset(token)


def test_group_membership_edits_made_outside_requests_are_recorded_as_system(db):
    user = UserFactory(username="pat_plain")
    user.groups.add(Group.objects.get(name="viewer"))
    change = changes_to(user)[-1]
    assert change.via == "system" and change.after == {"groups": ["viewer"]}
    assert User.objects.get(pk=user.pk).groups.count() == 1
