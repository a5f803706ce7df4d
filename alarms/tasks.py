"""Celery tasks of the alarms app: thin wrappers, scheduled by beat (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.utils import timezone

from alarms.lifecycle import check_alarm_timers


@shared_task(name="alarms.check_alarm_timers", ignore_result=True)
def check_alarm_timers_task():
    """Unshelve alarms whose shelve expired, then escalate overdue critical alarms (every minute)."""
    return check_alarm_timers(now=timezone.now())
