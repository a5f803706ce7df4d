"""Celery tasks of the accounts app: thin wrappers, scheduled by beat (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from accounts import changes
from accounts.tokens import delete_expired_logouts, delete_expired_refresh_tokens


@shared_task(name="accounts.delete_expired_refresh_tokens", ignore_result=True)
def delete_expired_refresh_tokens_task():
    return delete_expired_refresh_tokens()


@shared_task(name="accounts.delete_expired_logouts", ignore_result=True)
def delete_expired_logouts_task():
    return delete_expired_logouts()


@shared_task(name="accounts.prune_audit_trail", ignore_result=True)
def prune_audit_trail_task():
    return changes.prune()
