"""The API's one error shape, and the DRF exception handler and Django error views that produce it.

Every 4xx/5xx JSON body under /api/ reads::

    {"type": "validation_error", "detail": "One human sentence.",
     "errors": [{"field": "flow_rate", "message": "must not be negative, got -3.0 bbl/d", "code": "min_value"}]}

``type`` is one of ``ERROR_TYPES``; ``errors`` is always there (empty when nothing is field-specific);
an entry's ``field`` is the field or query parameter (dotted for nested fields, null for the request as a
whole) and it carries ``index`` only for the items of a batch. A 403 adds ``required_roles``. Endpoints may
add keys of their own (ingest adds ``error_count`` and ``invalid_count``).

Written here rather than taken from drf-standardized-errors: that library's body is ``{"type", "errors":
[{"code", "detail", "attr"}]}`` with no top-level ``detail``, no ``index`` and no room for
``required_roles``, and the ingest endpoints must keep their documented ``detail`` and ``errors`` with
``index``/``field``/``message``; bending its formatter to that would leave little of it in use.
"""

from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

VALIDATION_ERROR = "validation_error"
ERROR_TYPES = (
    VALIDATION_ERROR,
    "parse_error",
    "not_authenticated",
    "authentication_failed",
    "permission_denied",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "payload_too_large",
    "throttled",
    "conflict",
    "server_error",
    "service_unavailable",
)
_TYPE_OF_STATUS = {
    400: "parse_error",
    401: "authentication_failed",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    503: "service_unavailable",
}
NON_FIELD_KEYS = {"non_field_errors", "detail"}


def error_type(status_code):
    """The ``type`` for an answer with this status when nothing more specific is known."""
    if status_code in _TYPE_OF_STATUS:
        return _TYPE_OF_STATUS[status_code]
    return "server_error" if status_code >= 500 else VALIDATION_ERROR


def error_entry(field, message, code, index=None):
    """One item of ``errors``; ``index`` only for the items of a batch."""
    entry = {"field": field, "message": str(message), "code": code}
    if index is not None:
        entry = {"index": index, **entry}
    return entry


def error_body(type_, detail, errors=(), **extra):
    """The body of every error answer; ``extra`` adds endpoint-specific keys after the common ones."""
    return {"type": type_, "detail": str(detail), "errors": list(errors), **extra}


def error_json_response(status_code, detail, errors=(), *, type_=None, headers=None):
    """A plain Django JsonResponse with the error body, for answers given outside DRF (middleware, URL 404)."""
    body = error_body(type_ or error_type(status_code), detail, errors)
    return JsonResponse(body, status=status_code, headers=headers, json_dumps_params={"ensure_ascii": False})


def _validation_entries(detail, path=()):
    """Flattens DRF's nested ValidationError detail into entries; a top-level list of objects is a batch."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _validation_entries(value, (*path, key))
    elif isinstance(detail, list):
        if not path and any(isinstance(item, dict) for item in detail):  # many=True at the top: a batch
            for index, item in enumerate(detail):
                for entry in _validation_entries(item):
                    yield {"index": index, **entry}
            return
        for position, item in enumerate(detail):
            yield from _validation_entries(item, (*path, position) if isinstance(item, dict | list) else path)
    else:
        names = [str(part) for part in path if part not in NON_FIELD_KEYS]
        yield error_entry(".".join(names) or None, detail, getattr(detail, "code", "invalid"))


def _validation_detail(errors):
    if len(errors) == 1:
        field, message = errors[0]["field"], errors[0]["message"]
        return f"{field}: {message}" if field else message
    fields = list(dict.fromkeys(entry["field"] for entry in errors if entry["field"]))
    named = f" ({', '.join(fields)})" if fields else ""
    return f"The request has {len(errors)} problems{named}; each is listed in errors."


def _simplejwt_body(status_code, detail):
    """simplejwt's token errors carry ``{"detail", "code", "messages": [{"message", ...}]}``."""
    code = str(detail.get("code", "token_not_valid"))
    errors = [error_entry(None, item.get("message", ""), code) for item in detail.get("messages", [])]
    return error_body(error_type(status_code), detail.get("detail", "The token is not valid."), errors)


def _body_for(exc, status_code):
    if isinstance(exc, exceptions.ValidationError):
        errors = list(_validation_entries(exc.detail))
        return error_body(VALIDATION_ERROR, _validation_detail(errors), errors)
    if isinstance(exc.detail, dict) and "messages" in exc.detail:
        return _simplejwt_body(status_code, exc.detail)
    type_ = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else error_type(status_code)
    detail, errors = exc.detail, []
    if isinstance(detail, dict | list):  # e.g. NotFound({"well": ["No well with ID 'WELL-999'."]})
        errors = list(_validation_entries(detail))
        detail = _validation_detail(errors)
    if status_code == status.HTTP_403_FORBIDDEN:
        return error_body(type_, detail, errors, required_roles=list(getattr(exc, "required_roles", [])))
    return error_body(type_, detail, errors)


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handler for the status and headers (WWW-Authenticate,
    Retry-After), this module's body. Exceptions DRF doesn't handle go on to Django (503 middleware, 500)."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif not isinstance(exc, exceptions.APIException):  # Django's PermissionDenied
        exc = exceptions.PermissionDenied(*exc.args)
    response.data = _body_for(exc, response.status_code)
    return response


def _is_api(request):
    return request.path.startswith("/api/")


# Django's own error views, answering in the error shape on API paths (ROOT_URLCONF's handler400/404/500).
def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if _is_api(request):
        return error_json_response(400, "The request could not be understood.", type_="parse_error")
    return defaults.bad_request(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if _is_api(request):
        return error_json_response(404, "No API endpoint at this address; see /api/v1/docs.")
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if _is_api(request):
        return error_json_response(500, "The server failed to answer; the error is logged.")
    return defaults.server_error(request, template_name)
