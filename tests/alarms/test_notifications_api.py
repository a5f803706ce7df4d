"""Notification settings through the API and the admin: each user's own preferences, webhook receivers and
the delivery log for admins; bad input refused naming the field, with nothing half-written."""

import pytest
from django.test import Client

from accounts import users
from accounts.roles import Role
from alarms import notifications
from alarms.models import NOTIFYING_KINDS, NotificationDelivery, NotificationPreference, WebhookReceiver
from tests.alarms.conftest import T0, add_receiver, minutes, raise_gas_lock, subscribe
from tests.api_errors import named_errors
from tests.config.openapi_responses import published_schema, response_problems
from tests.factories import TEST_PASSWORD, WellFactory

pytestmark = pytest.mark.django_db

PREFERENCES = "/api/v1/alarms/notifications/preferences"
DELIVERIES = "/api/v1/alarms/notifications/deliveries"
WEBHOOKS = "/api/v1/alarms/webhooks"
NEW_RECEIVER = {"name": "SCADA gateway", "url": "https://scada.example.com/esp/alarms"}


def test_it_shows_a_user_without_saved_preferences_that_they_get_no_mail(viewer_client):
    body = viewer_client.get(PREFERENCES).json()
    defaults = {"email": False, "min_severity": "warning", "kinds": NOTIFYING_KINDS, "address": "", "updated_at": None}
    assert body == defaults


def test_it_saves_each_users_own_preferences(operator, operator_client, viewer_client):
    operator.email = "omar@example.com"
    operator.save()
    response = operator_client.put(
        PREFERENCES, {"email": True, "min_severity": "critical", "kinds": ["escalated", "raised", "raised"]}
    )
    assert response.status_code == 200, response.content
    assert response.json() | {"updated_at": None} == {
        "email": True,
        "min_severity": "critical",
        "kinds": ["raised", "escalated"],
        "address": "omar@example.com",
        "updated_at": None,
    }
    saved = NotificationPreference.objects.get()
    assert (saved.user, saved.email, saved.min_severity) == (operator, True, "critical")
    assert saved.kinds == ["raised", "escalated"]
    assert viewer_client.get(PREFERENCES).json()["email"] is False

    # A PUT replaces them: what it leaves out goes back to the defaults.
    assert operator_client.put(PREFERENCES, {"email": True}).json()["kinds"] == NOTIFYING_KINDS
    assert NotificationPreference.objects.get().min_severity == "warning"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": True}, "email"),  # the account has no address
        ({"email": False, "min_severity": "info"}, "min_severity"),
        ({"email": False, "kinds": ["acknowledged"]}, "kinds.0"),  # the list's first item
        ({"email": False, "kinds": []}, "kinds"),
        ({"min_severity": "critical"}, "email"),
    ],
)
def test_it_refuses_bad_preferences_naming_the_field_and_keeps_the_old_ones(viewer, viewer_client, body, field):
    NotificationPreference.objects.create(user=viewer, email=False, min_severity="critical", kinds=["raised"])
    response = viewer_client.put(PREFERENCES, body, format="json")
    assert response.status_code == 400
    assert list(named_errors(response)) == [field]
    saved = NotificationPreference.objects.get()
    assert (saved.email, saved.min_severity, saved.kinds) == (False, "critical", ["raised"])


def test_it_adds_a_webhook_receiver_showing_its_generated_secret_once(admin_client_api, well):
    response = admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "well_ids": ["WELL-001"]}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    receiver = WebhookReceiver.objects.get()
    assert created["secret"] == receiver.secret and len(receiver.secret) >= 40
    assert (created["name"], created["well_ids"], created["kinds"], created["active"]) == (
        "SCADA gateway",
        ["WELL-001"],
        NOTIFYING_KINDS,
        True,
    )
    assert "secret" not in admin_client_api.get(f"{WEBHOOKS}/{receiver.pk}").json()
    assert "secret" not in admin_client_api.get(WEBHOOKS).json()["results"][0]


def test_it_keeps_a_secret_the_admin_chose(admin_client_api):
    chosen = "a-secret-the-receiver-already-has"
    response = admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "secret": chosen}, format="json")
    assert response.json()["secret"] == chosen == WebhookReceiver.objects.get().secret


@pytest.mark.parametrize(
    "url",
    [
        "ftp://scada.example.com/alarms",
        "javascript:alert(1)",
        "scada.example.com/alarms",
        "http://",
        "http://scada.example.com:99999/alarms",
        "https://scada example.com/alarms",
    ],
)
def test_it_refuses_a_webhook_url_that_is_not_http_naming_url_and_saves_nothing(admin_client_api, url):
    response = admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "url": url}, format="json")
    assert response.status_code == 400
    assert named_errors(response) == {"url": ["Enter an http:// or https:// URL."]}
    assert not WebhookReceiver.objects.exists()


def test_it_accepts_a_plant_network_host_name(admin_client_api):
    response = admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "url": "http://scada-gw:8080/esp"}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"well_ids": ["WELL-001", "WELL-999"]}, "well_ids"),
        ({"secret": "too-short"}, "secret"),
        ({"min_severity": "info"}, "min_severity"),
        ({"name": "Already taken"}, "name"),
    ],
)
def test_it_refuses_a_bad_receiver_whole(admin_client_api, well, change, field):
    add_receiver("https://teams.example.com/hook", name="Already taken")
    response = admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, **change}, format="json")
    assert response.status_code == 400
    assert list(named_errors(response)) == [field]
    assert list(WebhookReceiver.objects.values_list("name", flat=True)) == ["Already taken"]


def test_it_changes_a_receiver_and_refuses_a_bad_change_whole(admin_client_api, well):
    receiver = add_receiver("https://scada.example.com/esp/alarms")
    old_secret = receiver.secret

    refused = admin_client_api.patch(
        f"{WEBHOOKS}/{receiver.pk}", {"url": "gopher://x", "active": False, "well_ids": ["WELL-001"]}, format="json"
    )
    assert refused.status_code == 400 and list(named_errors(refused)) == ["url"]
    receiver.refresh_from_db()
    assert (receiver.url, receiver.active, list(receiver.wells.all())) == (
        "https://scada.example.com/esp/alarms",
        True,
        [],
    )

    changed = admin_client_api.patch(
        f"{WEBHOOKS}/{receiver.pk}",
        {"active": False, "well_ids": ["WELL-001"], "secret": "a-new-secret-for-the-receiver"},
        format="json",
    )
    assert changed.status_code == 200
    assert (changed.json()["active"], changed.json()["well_ids"]) == (False, ["WELL-001"])
    assert "secret" not in changed.json()
    receiver.refresh_from_db()
    assert receiver.secret == "a-new-secret-for-the-receiver" != old_secret


def test_deleting_a_receiver_keeps_its_log_and_gives_up_what_it_had_not_received(admin_client_api, well):
    receiver = add_receiver("https://scada.example.com/esp/alarms")
    raise_gas_lock(well)
    delivery = NotificationDelivery.objects.get()

    assert admin_client_api.delete(f"{WEBHOOKS}/{receiver.pk}").status_code == 204
    assert notifications.deliver(delivery.pk, now=delivery.next_attempt_at).status == "gave_up"
    delivery.refresh_from_db()
    assert (delivery.webhook, delivery.recipient, delivery.last_error) == (
        None,
        "SCADA gateway",
        "The webhook receiver was deleted.",
    )


@pytest.fixture
def delivery_log(well, operator):
    """Deliveries of two alarms: an e-mail sent and a webhook given up on the first, a pending e-mail on the second."""
    subscribe(operator)
    add_receiver("https://scada.example.com/esp/alarms", kinds=["raised"])
    first = raise_gas_lock(well).alarm
    NotificationDelivery.objects.filter(channel="email").update(status="sent", attempts=1, sent_at=T0)
    NotificationDelivery.objects.filter(channel="webhook").update(
        status="gave_up", attempts=8, response_code=503, last_error="HTTP 503: Service Unavailable"
    )
    second = raise_gas_lock(WellFactory(well_id="WELL-002"), at=T0 + minutes(5)).alarm
    NotificationDelivery.objects.filter(channel="webhook", status="pending").delete()
    return first, second


def test_it_lists_the_delivery_log_to_admins_with_filters(admin_client_api, delivery_log):
    first, second = delivery_log

    def listed(**query):
        response = admin_client_api.get(DELIVERIES, query)
        assert response.status_code == 200, response.content
        return [(row["well_id"], row["channel"], row["status"]) for row in response.json()["results"]]

    everything = [("WELL-002", "email", "pending"), ("WELL-001", "webhook", "gave_up"), ("WELL-001", "email", "sent")]
    assert listed() == everything
    assert listed(status="gave_up") == [("WELL-001", "webhook", "gave_up")]
    assert listed(channel="email") == [("WELL-002", "email", "pending"), ("WELL-001", "email", "sent")]
    assert listed(alarm=first.pk, channel="email") == [("WELL-001", "email", "sent")]
    row = admin_client_api.get(DELIVERIES, {"status": "gave_up"}).json()["results"][0]
    assert (row["recipient"], row["attempts"], row["response_code"], row["event_kind"], row["alarm_id"]) == (
        "SCADA gateway",
        8,
        503,
        "raised",
        first.pk,
    )


@pytest.mark.parametrize(("query", "parameter"), [({"status": "lost"}, "status"), ({"channel": "sms"}, "channel")])
def test_it_refuses_a_bad_delivery_filter_naming_it(admin_client_api, query, parameter):
    response = admin_client_api.get(DELIVERIES, query)
    assert response.status_code == 400
    assert list(named_errors(response)) == [parameter]


def test_its_real_answers_match_the_published_schema(operator, operator_client, admin_client_api, delivery_log):
    schema = published_schema()
    receiver = WebhookReceiver.objects.get()
    calls = [
        ("GET", PREFERENCES, operator_client.get(PREFERENCES)),
        ("PUT", PREFERENCES, operator_client.put(PREFERENCES, {"email": True, "min_severity": "critical"})),
        ("PUT", PREFERENCES, operator_client.put(PREFERENCES, {"min_severity": "info"})),
        ("GET", DELIVERIES, admin_client_api.get(DELIVERIES)),
        ("GET", DELIVERIES, admin_client_api.get(DELIVERIES, {"status": "x"})),
        ("POST", WEBHOOKS, admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "name": "Pager"}, format="json")),
        ("POST", WEBHOOKS, admin_client_api.post(WEBHOOKS, {**NEW_RECEIVER, "url": "ftp://x"}, format="json")),
        ("GET", WEBHOOKS, admin_client_api.get(WEBHOOKS)),
        ("GET", WEBHOOKS + "/{id}", admin_client_api.get(f"{WEBHOOKS}/{receiver.pk}")),
        ("GET", WEBHOOKS + "/{id}", admin_client_api.get(f"{WEBHOOKS}/999999")),
        ("PATCH", WEBHOOKS + "/{id}", admin_client_api.patch(f"{WEBHOOKS}/{receiver.pk}", {"field": "Ghawar"})),
        ("PATCH", WEBHOOKS + "/{id}", admin_client_api.patch(f"{WEBHOOKS}/{receiver.pk}", {"url": "x"})),
        ("DELETE", WEBHOOKS + "/{id}", admin_client_api.delete(f"{WEBHOOKS}/{receiver.pk}")),
    ]
    assert [r.status_code for _, _, r in calls] == [200, 200, 400, 200, 400, 201, 400, 200, 200, 404, 200, 400, 204]
    problems = [problem for method, path, r in calls for problem in response_problems(schema, method, path, r)]
    assert problems == [], "\n".join(problems)


# --- The admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_session(db):
    def _admin_session(role):
        user = users.create_user(username=f"{role}_engineer", password=TEST_PASSWORD, role=Role[role.upper()])
        browser = Client()
        browser.force_login(user)
        return browser

    return _admin_session


def test_the_admin_shows_a_new_receivers_secret_once_and_never_on_its_page(admin_session, well):
    browser = admin_session("admin")
    response = browser.post(
        "/admin/alarms/webhookreceiver/add/",
        {
            "name": "Teams channel",
            "url": "https://teams.example.com/hook",
            "active": "on",
            "min_severity": "critical",
            "kinds": ["raised", "escalated"],
            "field": "",
        },
        follow=True,
    )
    receiver = WebhookReceiver.objects.get()
    assert receiver.kinds == ["raised", "escalated"]
    assert receiver.secret in response.content.decode()
    page = browser.get(f"/admin/alarms/webhookreceiver/{receiver.pk}/change/").content.decode()
    assert "Teams channel" in page and receiver.secret not in page

    refused = browser.post(
        "/admin/alarms/webhookreceiver/add/",
        {"name": "FTP", "url": "ftp://x.example.com", "min_severity": "warning", "kinds": ["raised"]},
    )
    assert refused.status_code == 200 and "Enter an http:// or https:// URL." in refused.content.decode()
    assert WebhookReceiver.objects.count() == 1


def test_the_delivery_log_is_read_only_and_for_admins(admin_session, delivery_log):
    delivery = NotificationDelivery.objects.filter(status="gave_up").get()
    admin = admin_session("admin")
    listing = admin.get("/admin/alarms/notificationdelivery/", {"status__exact": "gave_up"})
    assert listing.status_code == 200
    assert [d.pk for d in listing.context["cl"].result_list] == [delivery.pk]
    page = admin.get(f"/admin/alarms/notificationdelivery/{delivery.pk}/change/").content.decode()
    assert "HTTP 503: Service Unavailable" in page and 'name="_save"' not in page
    assert admin.post(f"/admin/alarms/notificationdelivery/{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/alarms/notificationdelivery/add/").status_code == 403

    operator = admin_session("operator")
    assert operator.get("/admin/alarms/notificationdelivery/").status_code == 403
    assert operator.get("/admin/alarms/webhookreceiver/").status_code == 403
