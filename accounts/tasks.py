"""Celery tasks of the accounts app: thin wrappers, scheduled by beat (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.core.management import call_command

from accounts import changes
from accounts.tokens import delete_expired_logouts


@shared_task(name="accounts.delete_expired_refresh_tokens", ignore_result=True)
def delete_expired_refresh_tokens_task():
    """simplejwt's own flushexpiredtokens: a refresh token past expiry is refused on its expiry alone, so its
    row (and its blacklist row) only costs space; without this the table grows by every sign-in for ever."""
    call_command("flushexpiredtokens")


@shared_task(name="accounts.delete_expired_logouts", ignore_result=True)
def delete_expired_logouts_task():
    return delete_expired_logouts()


@shared_task(name="accounts.prune_audit_trail", ignore_result=True)
def prune_audit_trail_task():
    return changes.prune()
