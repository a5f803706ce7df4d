"""The platform's logs: one JSON object per line outside DEBUG, each with the request id, the user and the
well where they are known; secrets redacted from every line, whatever its format.

- ``RequestIdMiddleware`` (first in MIDDLEWARE) takes the caller's ``X-Request-ID`` when it is a sane
  token (1-128 of ``A-Z a-z 0-9 . _ : -``) or makes one, answers it in the ``X-Request-ID`` header, and
  logs one line per request (``esp.request``: method, path without the query string, status, duration).
  The well is the view's ``well_id`` URL argument, or a ``well_id`` passed in a record's ``extra``.
- ``RequestContextFilter`` (on the handler) stamps every record made while a request is handled with
  ``request_id``, ``user`` (the username once authentication has run; never forces a lookup) and ``well``.
- ``JsonFormatter`` writes ``{"time", "level", "logger", "message", "request_id", "user", "well", …extra}``;
  ``PlainFormatter`` is the DEBUG one. Both pass every string through ``redact``: bearer tokens, JWTs,
  ``password=``/``"token": …`` values and passwords in URLs never reach the output, even if a caller logs
  them by mistake.
"""

import contextvars
import dataclasses
import datetime
import json
import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# (pattern, replacement): what must never be written to a log, however it got into a message.
SECRET_PATTERNS = [
    # Authorization: <scheme> <credentials> (Bearer, Basic, Token…): the scheme stays.
    (re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)(\w+)\s+[^\s,;"']+"""), r"\1\2 [redacted]"),
    # Bearer <token> anywhere else.
    (re.compile(r"(?i)\b(bearer)\s+[^\s,;\"']+"), r"\1 [redacted]"),
    # A JWT anywhere (header.payload.signature, each base64url; the header always starts eyJ).
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "[redacted]"),
    # password=…, "refresh_token": "…", secret: … (the key itself stays, so the line still says what it was).
    (
        re.compile(
            r"""(?i)(["']?\b(?:password|passwd|pwd|secret|secret_key|token|access_token|refresh_token|api_key)"""
            r"""["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,&;}]+)"""
        ),
        r"\1[redacted]",
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), r"\1[redacted]@"),
]


def redact(text):
    """``text`` with every secret SECRET_PATTERNS recognises replaced by a marker."""
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclasses.dataclass
class RequestContext:
    request_id: str
    request: object
    well: str | None = None


_current = contextvars.ContextVar("esp_request_context", default=None)


def current_request_id():
    """The id of the request being handled in this thread or task, or None outside a request."""
    context = _current.get()
    return context.request_id if context else None


def _username(request):
    """The signed-in user's name if authentication has already run; None otherwise (never queries)."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:  # the session user was never needed: don't load it for a log line
            return None
        user = user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


class RequestContextFilter(logging.Filter):
    """Stamps each record with request_id, user and well (None where unknown); never drops a record."""

    def filter(self, record):
        context = _current.get()
        if context is None and hasattr(getattr(record, "request", None), "request_id"):
            # Django logs 4xx/5xx responses (django.request) after the middleware has returned, with the request.
            context = RequestContext(record.request.request_id, record.request)
        record.request_id = getattr(record, "request_id", None) or (context.request_id if context else None)
        record.user = getattr(record, "user", None) or (_username(context.request) if context else None)
        record.well = (
            getattr(record, "well", None) or getattr(record, "well_id", None) or (context.well if context else None)
        )
        return True


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "user",
    "well",
    "well_id",
    # Django's request logging passes the request object: its repr holds the query string. The id is enough.
    "request",
    "taskName",
}


def _json_value(value):
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module docstring for the fields."""

    def format(self, record):
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        line = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "user": getattr(record, "user", None),
            "well": getattr(record, "well", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_") and key not in line:
                line[key] = _json_value(value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for DEBUG, with the request id when there is one; redacted like the JSON."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def format(self, record):
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return redact(super().format(record))


access_logger = logging.getLogger("esp.request")


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID when sane), echoes it in the response and logs
    one line per request. First in MIDDLEWARE, so every other middleware's log lines carry the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current.set(RequestContext(request_id, request))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            _current.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        well = view_kwargs.get("well_id")
        context = _current.get()
        if well and context is not None:
            context.well = str(well)
