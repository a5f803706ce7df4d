"""Middleware for answers that must hold on every request, API and admin alike.

- ``DatabaseUnavailableMiddleware``: a database outage is a 503 with ``Retry-After``, in JSON, so devices
  and integrations retry instead of treating it as a bug.
- ``UrlTextGuardMiddleware``: NUL in the URL path or a query parameter is a 400 naming it, before a view
  can hand it to PostgreSQL (psycopg refuses NUL in a query parameter, which would be a 500).
"""

import logging

from django.db import InterfaceError, OperationalError

from config.errors import error_entry, error_json_response
from config.text import printable, storable

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying while the database can't be reached: long enough not to
# hammer a server that is restarting, short enough that a device's buffer doesn't grow much meanwhile.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable; nothing was changed. Retry in a few seconds."


class DatabaseUnavailableMiddleware:
    """Turns OperationalError / InterfaceError from a view into a 503 (``service_unavailable``) with Retry-After.

    Those are the errors of the database's operation rather than of the request: connection refused,
    server closed the connection, too many clients, a deadlock or serialization failure. Whatever the view
    wrote in its transaction was rolled back with it. DRF views included: DRF hands exceptions that are
    not its own back to Django, which offers them to ``process_exception``. Only exceptions from views are
    offered (Django turns one raised by a middleware into a 500 itself), and views are where the platform
    reads and writes the database; a session saved after the view by SessionMiddleware is not covered.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "Database unavailable; answered 503 to %s %s: %s",
            request.method,
            printable(request.path),
            " ".join(str(exception).split()),  # psycopg's messages run over several lines
        )
        return error_json_response(
            503, DATABASE_UNAVAILABLE, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
        )


def _text_problem(text):
    """Why ``text`` from a URL can't be used ("must not ..."), or None."""
    if storable(text):
        return None
    if "\x00" in text:
        return "must not contain NUL characters (%00)"
    return "must be valid Unicode text (it holds an unpaired surrogate)"


class UrlTextGuardMiddleware:
    """Answers 400 when the URL path or a query parameter (name or value) holds text PostgreSQL can't take.

    The body is the API's error shape (``validation_error``); each bad parameter is an entry naming it,
    e.g. ``{"field": "search", "message": "Must not contain NUL characters (%00).", "code": "invalid_text"}``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if problem := _text_problem(request.path):
            return error_json_response(400, f"The URL path {problem}.", type_="validation_error")
        errors = []
        for name, values in request.GET.lists():
            if problem := _text_problem(name) or next(filter(None, map(_text_problem, values)), None):
                errors.append(error_entry(printable(name), f"{problem[0].upper()}{problem[1:]}.", "invalid_text"))
        if errors:
            named = ", ".join(entry["field"] for entry in errors)
            return error_json_response(400, f"Query parameter text refused: {named}.", errors, type_="validation_error")
        return self.get_response(request)
