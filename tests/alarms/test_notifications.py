"""Alarm notifications reach a real SMTP server and a real webhook receiver (tests/alarms/receivers.py) once
per notifying transition, never for the others; failing receivers are retried with backoff until they
recover or the attempts run out; nothing waits for a receiver or the broker on the path that raises alarms.

Celery runs eagerly here (the tasks in this process, after the commit), except where a test says otherwise;
tests/alarms/test_notifications_worker.py runs a real worker. Time is the ``now`` handed to the delivery
functions — the scheduled retry times read back from the log — never a sleep.
"""

import datetime
import logging
import threading

import pytest
from django.db import connections
from django.utils import timezone

from alarms import lifecycle, notifications, tasks
from alarms.lifecycle import Outcome
from alarms.models import AlarmEvent, DeliveryStatus, NotificationDelivery, NotificationPreference
from alarms.notifications import retry_delay
from analytics.models import DiagnosticType
from tests.alarms.conftest import (
    T0,
    add_receiver,
    finding,
    minutes,
    raise_gas_lock,
    run_diagnostics,
    subscribe,
)
from tests.alarms.receivers import FrozenPort, RefusingPort
from tests.factories import UserFactory, WellFactory

pytestmark = pytest.mark.django_db

SECOND = datetime.timedelta(seconds=1)
# Upper bound on waiting for a thread to finish; never a timing assumption.
DEADLINE_SECONDS = 30


def subject(severity, what):
    return f"[ESP {severity}] WELL-001 gas lock {what}"


def test_it_notifies_each_notifying_transition_once_and_nothing_else(
    notify_settings, well, operator, smtp_server, webhook_receiver, committed
):
    subscribe(operator, "omar@example.com")
    add_receiver(webhook_receiver.url)

    with committed():
        run_diagnostics(well, T0, [finding(severity="warning")])  # raised
    with committed():
        run_diagnostics(well, T0 + minutes(5), [finding(severity="critical", at=T0 + minutes(5))])  # worsened
    with committed():
        run_diagnostics(well, T0 + minutes(6), [finding(severity="critical", at=T0 + minutes(6))])  # a repeat
    with committed():
        lifecycle.escalate_overdue(now=T0 + minutes(20))  # unacknowledged for 15 minutes since it worsened
    alarm = AlarmEvent.objects.get(kind="raised").alarm
    with committed():
        alarm.acknowledge(operator, now=T0 + minutes(21))  # the operator's own action
    with committed():
        run_diagnostics(well, T0 + minutes(25))  # absent…
        run_diagnostics(well, T0 + minutes(40))  # …for 15 minutes: returned to normal, and closed
    with committed():
        run_diagnostics(well, T0 + minutes(50), [finding(at=T0 + minutes(50))])  # back within the hold-off: chatter
    with committed():
        run_diagnostics(well, T0 + minutes(55))
        run_diagnostics(well, T0 + minutes(70))  # returned to normal again, after a chatter

    assert smtp_server.received() == [
        ("omar@example.com", subject("warning", "raised")),
        ("omar@example.com", subject("critical", "worsened to critical")),
        ("omar@example.com", subject("critical", "escalated: unacknowledged for 15 min")),
        ("control-room@example.com", subject("critical", "escalated: unacknowledged for 15 min")),
        ("omar@example.com", subject("critical", "returned to normal")),
    ]
    posts = webhook_receiver.accepted()
    assert [post["event"]["kind"] for post in posts] == ["raised", "severity_raised", "escalated", "returned_to_normal"]
    assert all(request["verified"] for request in webhook_receiver.requests)
    assert len(webhook_receiver.requests) == 4
    log = NotificationDelivery.objects.all()
    assert {(d.status, d.attempts) for d in log} == {(DeliveryStatus.SENT, 1)}
    assert log.count() == 9


def test_it_notifies_nothing_while_an_alarm_is_shelved_nor_for_operators_actions(
    notify_settings, well, operator, smtp_server, committed
):
    subscribe(operator)
    with committed():
        alarm = raise_gas_lock(well).alarm
    with committed():
        alarm.shelve(operator, until=T0 + minutes(120), reason="Known slugging.", now=T0 + minutes(1))
        run_diagnostics(well, T0 + minutes(5), [finding(at=T0 + minutes(5))])
        run_diagnostics(well, T0 + minutes(10))
        run_diagnostics(well, T0 + minutes(25))  # returned to normal while shelved
        alarm.refresh_from_db()
        alarm.unshelve(operator, now=T0 + minutes(30))
        alarm.clear(operator, now=T0 + minutes(31))

    assert [what for _, what in smtp_server.received()] == [subject("critical", "raised")]
    assert list(AlarmEvent.objects.filter(kind="returned_to_normal").values_list("notify", flat=True)) == [False]


def test_it_mails_who_asked_for_it_from_their_minimum_severity_and_for_their_kinds(
    notify_settings, well, smtp_server, committed
):
    subscribe(UserFactory(username="cora_critical", role="operator"), min_severity="critical")
    subscribe(UserFactory(username="rita_raises", role="operator"), kinds=["raised"])
    subscribe(UserFactory(username="vic_viewer", role="viewer"))
    subscribe(UserFactory(username="otto_off", role="admin"), email=False)
    inactive = UserFactory(username="ivan_inactive", role="admin")
    subscribe(inactive)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    subscribe(UserFactory(username="nora_norole"))
    NotificationPreference.objects.create(user=UserFactory(username="ned_noaddress", role="admin"), email=True)

    with committed():
        run_diagnostics(well, T0, [finding(severity="warning")])
    with committed():
        run_diagnostics(well, T0 + minutes(5), [finding(severity="critical", at=T0 + minutes(5))])

    assert sorted(smtp_server.received()) == [
        ("cora_critical@example.com", subject("critical", "worsened to critical")),
        ("rita_raises@example.com", subject("warning", "raised")),
        ("vic_viewer@example.com", subject("critical", "worsened to critical")),
        ("vic_viewer@example.com", subject("warning", "raised")),
    ]


def test_it_mails_an_address_once_per_event_even_when_it_is_asked_twice(
    notify_settings, well, operator, smtp_server, committed
):
    subscribe(operator, "Control-Room@example.com")  # also an escalation receiver (alarm_settings)
    raise_gas_lock(well)
    with committed():
        lifecycle.escalate_overdue(now=T0 + minutes(15))
    assert smtp_server.received() == [
        ("Control-Room@example.com", subject("critical", "escalated: unacknowledged for 15 min"))
    ]


def test_it_posts_to_the_receivers_whose_severity_kinds_field_and_wells_match(well, committed):
    other = WellFactory(well_id="WELL-002", field="Safaniya")
    url = "http://scada.example.com/hook"
    add_receiver(url, name="everything")
    add_receiver(url, name="this field", field="Ghawar")
    add_receiver(url, name="another field", field="Safaniya")
    add_receiver(url, name="this well", wells=[well, other])
    add_receiver(url, name="another well", wells=[other])
    add_receiver(url, name="inactive", active=False)
    add_receiver(url, name="critical only", min_severity="critical")
    add_receiver(url, name="returns only", kinds=["returned_to_normal"])

    run_diagnostics(well, T0, [finding(severity="warning")])
    run_diagnostics(well, T0 + minutes(5), [finding(severity="critical", at=T0 + minutes(5))])

    planned = {
        kind: sorted(NotificationDelivery.objects.filter(event__kind=kind).values_list("recipient", flat=True))
        for kind in ("raised", "severity_raised")
    }
    assert planned == {
        "raised": ["everything", "this field", "this well"],
        "severity_raised": ["critical only", "everything", "this field", "this well"],
    }


def test_the_mail_says_what_happened_where_with_the_evidence_and_a_link(
    notify_settings, well, operator, smtp_server, committed
):
    subscribe(operator)
    with committed():
        alarm = lifecycle.raise_alarm(
            well,
            DiagnosticType.BROKEN_SHAFT,
            "critical",
            at=T0,
            evidence={"current_a": 18.2, "flow_bpd": 0.0},
            confidence=0.85,
            recommended_action="Stop the pump and pull the string for inspection.",
        ).alarm

    (message,) = smtp_server.messages
    delivery = NotificationDelivery.objects.get()
    assert message["Subject"] == "[ESP critical] WELL-001 broken shaft raised"
    assert message["From"] == "esp-alarms@example.com"
    assert message["X-ESP-Delivery"] == str(delivery.pk)
    assert message["X-ESP-Event"] == "raised"
    body = message.get_content()
    for expected in (
        "WELL-001 — Ghawar North 1 (Ghawar)",
        "Condition:   Broken shaft",
        "Severity:    critical",
        "When:        2026-11-28 08:00 UTC",
        "Confidence:  85 %",
        "  current_a: 18.2",
        "  flow_bpd: 0.0",
        "Stop the pump and pull the string for inspection.",
        f"https://esp.example.com/admin/alarms/alarm/{alarm.pk}/change/",
    ):
        assert expected in body


def test_the_webhook_is_signed_json_naming_the_delivery_and_the_transition(
    notify_settings, well, webhook_receiver, committed
):
    add_receiver(webhook_receiver.url)
    with committed():
        alarm = raise_gas_lock(well, evidence={"current_a": 21.4}, confidence=0.9).alarm

    (request,) = webhook_receiver.requests
    delivery = NotificationDelivery.objects.get()
    headers, post = request["headers"], request["json"]
    assert request["verified"] and request["path"] == "/esp/alarms"
    assert headers["Content-Type"] == "application/json"
    assert (headers["X-ESP-Event"], headers["X-ESP-Delivery"]) == ("raised", str(delivery.pk))
    assert post["delivery_id"] == delivery.pk
    event = alarm.events.get()
    assert post["event"] == {
        "id": event.pk,
        "kind": "raised",
        "at": "2026-11-28T08:00:00Z",
        "from_state": "",
        "to_state": "active_unacknowledged",
        "severity": "critical",
        "details": {"confidence": 0.9},
    }
    assert {key: post["alarm"][key] for key in ("id", "well_id", "type", "severity", "state")} == {
        "id": alarm.pk,
        "well_id": "WELL-001",
        "type": "gas_lock",
        "severity": "critical",
        "state": "active_unacknowledged",
    }
    assert post["evidence"] == {"current_a": 21.4}
    assert post["link"] == f"/admin/alarms/alarm/{alarm.pk}/change/"
    # The receiver's check is a real one: a byte changed, or a timestamp outside the replay window, fails it.
    assert not webhook_receiver.verified(headers, request["body"] + b" ")
    stale = {**headers, "X-ESP-Timestamp": str(int(headers["X-ESP-Timestamp"]) - 301)}
    assert not webhook_receiver.verified(stale, request["body"])


@pytest.mark.parametrize("failure", ["500", "close", "hang"])
def test_it_retries_a_failing_receiver_with_backoff_until_it_recovers(
    notify_settings, well, webhook_receiver, committed, failure
):
    if failure == "hang":
        notify_settings.ALARM_WEBHOOK_TIMEOUT_SECONDS = 1
    add_receiver(webhook_receiver.url)
    webhook_receiver.fail_next(failure, failure)

    with committed():
        raise_gas_lock(well)  # the first attempt runs after the commit, and fails
    delivery = NotificationDelivery.objects.get()
    first_error = {"500": "HTTP 500: receiver broken", "close": "RemoteDisconnected", "hang": "timed out"}[failure]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert first_error in delivery.last_error
    assert delivery.response_code == (500 if failure == "500" else None)
    assert 15 * SECOND <= delivery.next_attempt_at - delivery.last_attempt_at <= 30 * SECOND

    retry_at = delivery.next_attempt_at
    assert notifications.deliver(delivery.pk, now=retry_at - SECOND).status is None  # not due yet
    assert notifications.deliver(delivery.pk, now=retry_at).status == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert 30 * SECOND <= delivery.next_attempt_at - retry_at <= 60 * SECOND  # doubled
    assert notifications.deliver(delivery.pk, now=delivery.next_attempt_at).status == DeliveryStatus.SENT

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == ("sent", 3, 200, "")
    assert [r["answer"] for r in webhook_receiver.requests] == [failure, failure, "200"]
    assert {r["headers"]["X-ESP-Delivery"] for r in webhook_receiver.requests} == {str(delivery.pk)}
    assert all(r["verified"] for r in webhook_receiver.requests)


def test_a_dead_receiver_never_holds_up_the_raise_and_is_given_up_after_the_last_attempt(
    settings, well, committed, caplog
):
    # Not eager: the hook hands the event to the broker (Redis) and returns; no worker runs here.
    settings.ALARM_NOTIFY_MAX_ATTEMPTS = 3
    dead = RefusingPort()
    add_receiver(f"http://127.0.0.1:{dead.port}/hook")
    try:
        with committed():
            assert raise_gas_lock(well).outcome == Outcome.RAISED
        delivery = NotificationDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_attempt_at) == ("pending", 0, None)

        now, outcomes = delivery.next_attempt_at, []
        with caplog.at_level(logging.WARNING, logger="alarms.notifications"):
            for _ in range(3):
                outcomes.append(notifications.deliver(delivery.pk, now=now).status)
                delivery.refresh_from_db()
                now = delivery.next_attempt_at
    finally:
        dead.close()
    assert outcomes == ["failed", "failed", "gave_up"]
    assert (delivery.status, delivery.attempts) == ("gave_up", 3)
    assert "ConnectionRefusedError" in delivery.last_error
    assert f"Gave up delivery {delivery.pk}" in caplog.text
    assert notifications.deliver(delivery.pk, now=now + datetime.timedelta(days=1)).status is None
    assert notifications.sweep(now=now + datetime.timedelta(days=1)) == 0


def test_it_sends_a_delivery_once_however_often_its_tasks_run(notify_settings, well, operator, smtp_server, committed):
    subscribe(operator)
    with committed():
        event = raise_gas_lock(well).alarm.events.get()
    delivery = NotificationDelivery.objects.get()

    # A redelivered task message, the event's task again, the sweeper much later.
    tasks.deliver_notification_task(delivery.pk)
    tasks.dispatch_notifications_task(event.pk)
    notifications.sweep(now=timezone.now() + datetime.timedelta(hours=2))

    assert len(smtp_server.messages) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(notify_settings, smtp_server):
    well = WellFactory(well_id="WELL-001")
    subscribe(UserFactory(username="omar_operator", role="operator"))
    # The commit's enqueue fails (nothing listens on the broker's port): only the threads below deliver.
    refusing = RefusingPort()
    notify_settings.CELERY_TASK_ALWAYS_EAGER = False
    notify_settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refusing.port}/0"
    raise_gas_lock(well)
    delivery = NotificationDelivery.objects.get()
    now = timezone.now()
    barrier = threading.Barrier(8, timeout=DEADLINE_SECONDS)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(notifications.deliver(delivery.pk, now=now).status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    refusing.close()
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert sorted(outcomes, key=str) == [None] * 7 + ["sent"]
    assert len(smtp_server.messages) == 1


def test_a_delivery_whose_sender_died_is_taken_over_after_its_lease(notify_settings, well, operator, smtp_server):
    subscribe(operator)
    raise_gas_lock(well)  # no commit: nothing enqueued, the test drives the delivery
    delivery = NotificationDelivery.objects.get()
    now = timezone.now()
    # A worker claimed it, then died before recording anything.
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status="sending", attempts=1, last_attempt_at=now, lease_expires_at=now + notifications.SENDING_LEASE
    )
    assert notifications.deliver(delivery.pk, now=now + minutes(1)).status is None
    assert notifications.deliver(delivery.pk, now=now + notifications.SENDING_LEASE).status == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(smtp_server.messages)) == ("sent", 2, 1)


def test_the_sweeper_gives_up_a_delivery_whose_sender_died_on_its_last_attempt(notify_settings, well, operator):
    subscribe(operator)
    raise_gas_lock(well)
    delivery = NotificationDelivery.objects.get()
    now = timezone.now()
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status="sending", attempts=4, last_attempt_at=now, lease_expires_at=now + notifications.SENDING_LEASE
    )
    assert notifications.sweep(now=now + minutes(1)) == 0
    delivery.refresh_from_db()
    assert delivery.status == "sending"
    notifications.sweep(now=now + notifications.SENDING_LEASE)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("gave_up", "The sender was lost during the last attempt.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", [RefusingPort, FrozenPort], ids=["refused", "frozen"])
def test_a_raise_while_the_broker_is_down_is_notified_by_the_sweeper(notify_settings, smtp_server, broker, caplog):
    well = WellFactory(well_id="WELL-001")
    subscribe(UserFactory(username="omar_operator", role="operator"))
    dead_broker, working_broker = broker(), notify_settings.CELERY_BROKER_URL
    notify_settings.CELERY_TASK_ALWAYS_EAGER = False
    notify_settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{dead_broker.port}/0"
    results = []

    def diagnostics_run():
        try:
            results.append(raise_gas_lock(well).outcome)  # commits; the hook runs after the commit
        finally:
            connections.close_all()

    with caplog.at_level(logging.WARNING, logger="alarms.notifications"):
        run = threading.Thread(target=diagnostics_run)
        run.start()
        run.join(DEADLINE_SECONDS)
    dead_broker.close()
    assert not run.is_alive(), "the raise waited on the broker"
    assert results == [Outcome.RAISED]
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts, smtp_server.messages) == ("pending", 0, [])
    assert "Could not enqueue 1 of 1 alarms.dispatch_notifications task(s)" in caplog.text

    # The broker is back. The beat task's sweep leaves the delivery a minute, then sends it.
    notify_settings.CELERY_BROKER_URL = working_broker
    notify_settings.CELERY_TASK_ALWAYS_EAGER = True
    notifications.broker_gate.reset()
    assert notifications.sweep(now=delivery.created_at + notifications.SWEEP_AFTER - SECOND) == 0
    assert notifications.sweep(now=delivery.created_at + notifications.SWEEP_AFTER) == 1
    assert smtp_server.received() == [("omar_operator@example.com", subject("critical", "raised"))]


def test_after_a_broker_failure_it_leaves_the_next_events_to_the_sweeper_without_waiting(
    notify_settings, well, operator, caplog, monkeypatch
):
    subscribe(operator)
    clock = [1000.0]  # the gate's clock: the three events within its quiet time, however busy the machine
    monkeypatch.setattr(notifications.broker_gate, "clock", lambda: clock[0])
    notify_settings.CELERY_TASK_ALWAYS_EAGER = False
    frozen = FrozenPort()
    notify_settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{frozen.port}/0"
    try:
        with caplog.at_level(logging.INFO, logger="alarms.notifications"):
            for alarm_type in (DiagnosticType.GAS_LOCK, DiagnosticType.OVERLOAD, DiagnosticType.HIGH_VIBRATION):
                event = lifecycle.raise_alarm(well, alarm_type, "critical", at=T0).alarm.events.get()
                notifications.alarm_event_committed(event.pk)
    finally:
        frozen.close()
    assert caplog.text.count("Could not enqueue") == 1
    assert caplog.text.count("left to the sweeper") == 2
    assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {"pending"}
    clock[0] += notifications.BROKER_QUIET_SECONDS
    assert notifications.broker_gate.is_open()  # and the next event tries the broker again


@pytest.mark.parametrize(("attempts", "full_seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600)])
def test_retry_delays_double_up_to_an_hour_less_up_to_half_at_random(attempts, full_seconds):
    full = datetime.timedelta(seconds=full_seconds)
    assert retry_delay(attempts, base_seconds=30, rand=lambda: 0.0) == full
    assert retry_delay(attempts, base_seconds=30, rand=lambda: 0.5) == full * 0.75
    assert full / 2 < retry_delay(attempts, base_seconds=30, rand=lambda: 0.999) < full
    assert full / 2 < retry_delay(attempts, base_seconds=30) <= full
