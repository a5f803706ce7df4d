"""The API's error body, as agreed for every 4xx and 5xx JSON answer from /api/: one function checks it.

    {"type": "<code>", "detail": "<one human sentence>",
     "errors": [{"field": <name or null>, "index": <int, batch items only>, "message": "...", "code": "..."}]}

A 403 adds ``required_roles``; a 429 keeps ``Retry-After``. The fuzz, hostile-input and rate-limit tests
all judge bodies here, so the shape is written down once.
"""

ERROR_TYPES = {
    "validation_error",
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
}
# The types that fit each status; a status not listed takes any type above.
TYPES_BY_STATUS = {
    400: {"validation_error", "parse_error"},
    401: {"not_authenticated", "authentication_failed"},
    403: {"permission_denied"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    406: {"not_acceptable"},
    409: {"conflict"},
    413: {"payload_too_large"},
    415: {"unsupported_media_type"},
    429: {"throttled"},
    500: {"server_error"},
    503: {"service_unavailable"},
}


def error_body_problems(status, body, headers=None):
    """Why ``body`` (decoded JSON) is not the API's error body for ``status``: a list, empty when it is."""
    if not isinstance(body, dict):
        return [f"{status}: the body is {type(body).__name__}, not an object"]
    problems = []
    fitting = TYPES_BY_STATUS.get(status, ERROR_TYPES)
    if not isinstance(body.get("type"), str) or body["type"] not in fitting:
        problems.append(f"{status}: type {body.get('type')!r} is not one of {sorted(fitting)}")
    if not isinstance(body.get("detail"), str) or not body["detail"].strip():
        problems.append(f"{status}: no human detail")
    errors = body.get("errors")
    if not isinstance(errors, list):
        problems.append(f"{status}: errors is {type(errors).__name__}, not a list")
        errors = []
    for number, error in enumerate(errors):
        where = f"{status}: errors[{number}]"
        if not isinstance(error, dict):
            problems.append(f"{where} is not an object")
            continue
        if "field" not in error or not (error["field"] is None or isinstance(error["field"], str)):
            problems.append(f"{where}.field must be a name or null")
        if "index" in error and (not isinstance(error["index"], int) or isinstance(error["index"], bool)):
            problems.append(f"{where}.index must be an integer")
        for key in ("message", "code"):
            if not isinstance(error.get(key), str) or not error[key]:
                problems.append(f"{where}.{key} must be a non-empty string")
    if status == 403 and not (isinstance(body.get("required_roles"), list) and body["required_roles"]):
        problems.append("403: required_roles must list the role(s) needed")
    if status == 429 and headers is not None and not {name.lower() for name in headers} & {"retry-after"}:
        problems.append("429: no Retry-After header")
    return problems


def check_error_body(response):
    """Fails the test when the Django/DRF ``response`` lacks the API's error body."""
    problems = error_body_problems(response.status_code, response.json(), response.headers)
    assert not problems, problems
