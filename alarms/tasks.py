"""Celery tasks of the alarms app: thin wrappers, scheduled by beat (see CELERY_BEAT_SCHEDULE) or enqueued
by ``alarms.notifications`` once an alarm event has committed."""

from celery import shared_task
from django.utils import timezone

from alarms import notifications
from alarms.lifecycle import check_alarm_timers


@shared_task(name="alarms.check_alarm_timers", ignore_result=True)
def check_alarm_timers_task():
    """Unshelve alarms whose shelve expired, then escalate overdue critical alarms (every minute)."""
    return check_alarm_timers(now=timezone.now())


@shared_task(name="alarms.dispatch_notifications", ignore_result=True)
def dispatch_notifications_task(event_id):
    """One alarm event's notifications: a delivery task per pending delivery."""
    return notifications.dispatch_event(event_id)


# The timeouts bound each network step of an attempt; the time limit bounds a receiver that trickles its
# answer byte by byte (prefork pool). A killed attempt leaves the delivery "sending" until its lease ends.
@shared_task(name="alarms.deliver_notification", ignore_result=True, time_limit=120)
def deliver_notification_task(delivery_id):
    """One attempt at one delivery; a failed attempt enqueues the next for when its backoff ends (the
    sweeper also picks it up then, should that enqueue be lost)."""
    now = timezone.now()
    attempt = notifications.deliver(delivery_id, now=now)
    if attempt.retry_at is not None:
        countdown = max(0.0, (attempt.retry_at - now).total_seconds())
        notifications.enqueue(deliver_notification_task, [(delivery_id,)], countdown=countdown)
    return attempt.status


@shared_task(name="alarms.sweep_notifications", ignore_result=True)
def sweep_notifications_task():
    """Deliveries left pending, due for a retry, or abandoned by a lost worker (every minute)."""
    return notifications.sweep(now=timezone.now())
