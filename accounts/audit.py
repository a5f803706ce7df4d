"""Writing the sign-in audit trail: who did what to which account, from which address and client.

``record`` is the only writer of ``AuthEvent`` rows. Views pass their request; code that runs deeper
(signal receivers reacting to a password change made in Django admin, say) finds the request of the
current HTTP call through ``AuditRequestMiddleware``. Management commands and shells have no request:
their events carry no actor, IP or user agent.

Never pass a password or a token in ``details``: the audit log is read by people.
"""

import contextvars
import ipaddress
import logging

from django.conf import settings

from accounts.models import AuthEvent

logger = logging.getLogger("accounts.audit")

USER_AGENT_MAX_LENGTH = AuthEvent._meta.get_field("user_agent").max_length
USERNAME_MAX_LENGTH = AuthEvent._meta.get_field("username").max_length

_current_request = contextvars.ContextVar("accounts_audit_request", default=None)


class AuditRequestMiddleware:
    """Makes the request being served available to ``record`` for the duration of the call."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def current_request():
    """The HTTP request being served by this thread or task, or None (Celery, commands, shells)."""
    return _current_request.get()


def client_ip(request):
    """The caller's IP address as a string, or None when it can't be told.

    Behind ``TRUSTED_PROXY_COUNT`` reverse proxies, each appends the address it received the call from
    to X-Forwarded-For, so the caller is that many entries from the right. Entries further left are
    whatever the client chose to send and are ignored.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    address = request.META.get("REMOTE_ADDR")
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def user_agent(request):
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH]


def record(event, *, user=None, username=None, actor=None, request=None, details=None):
    """Writes one audit event and logs it; returns the ``AuthEvent``.

    ``user`` is the account concerned (``username`` is taken from it unless given, e.g. a name typed at
    a refused sign-in). ``actor`` defaults to the signed-in user of ``request`` (or of the current
    HTTP call when no request is passed).
    """
    request = request if request is not None else _current_request.get()
    if actor is None and request is not None:
        caller = getattr(request, "user", None)
        actor = caller if caller is not None and caller.is_authenticated else None
    if username is None:
        username = user.get_username() if user is not None else ""
    entry = AuthEvent.objects.create(
        event=event,
        user=user if user is not None and user.pk is not None else None,
        username=username[:USERNAME_MAX_LENGTH],
        actor=actor,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        details=details or {},
    )
    logger.info(
        "auth event %s username=%r actor=%r ip=%s details=%s",
        event,
        entry.username,
        actor.get_username() if actor is not None else None,
        entry.ip_address,
        entry.details,
    )
    return entry
