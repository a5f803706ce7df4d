"""OpenAPI schema hooks (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).

``document_auth_errors`` is the one place that documents 401, 403 and 429: every operation that needs a
signed-in caller gets a 401, every one that needs a role a 403 naming it, every rate-limited one a 429,
all with the body DRF sends (``ErrorDetail``); ``document_lookup_errors`` does the same for 404s. Views
don't list them; a view that does keeps its description and gets the body.
tests/config/test_api_schema_truth.py checks the result against what the API really answers.
"""

import types

from accounts.permissions import RolePermission
from accounts.roles import Role

ERROR_DETAIL = "ErrorDetail"
ERROR_DETAIL_SCHEMA = {
    "type": "object",
    "description": "Why the request was refused.",
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, for people."},
        "code": {"type": "string", "description": "A stable code for programs, when there is one."},
    },
    "required": ["detail"],
}
# DRF's body for invalid input: each field or parameter in error with its messages.
FIELD_ERRORS = "FieldErrors"
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "What is wrong, keyed by the field or parameter in error.",
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
}
TOO_MANY_REQUESTS = "Over the caller's rate limit (per user and per IP); retry after Retry-After seconds."
NOT_SIGNED_IN = "No valid Bearer token (missing, expired, logged out or revoked)."


def _refusal(description, schema=ERROR_DETAIL):
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _required_role(view, method):
    """The role the view's permissions need for ``method``, or None when any signed-in caller may call it."""
    request = types.SimpleNamespace(method=method)  # RolePermission reads nothing else
    roles = [
        permission.required_role(request, view)
        for permission in view.get_permissions()
        if isinstance(permission, RolePermission)
    ]
    return max(roles, default=None)


def _forbidden_description(role):
    if role is Role.ADMIN:
        return "Signed in, but not an admin."
    return f"Signed in, but without the {role.group_name} role or a higher one."


def _document(responses, status, description, schema=ERROR_DETAIL):
    """Adds the response for ``status`` unless the view documented it; gives it the error body if it has none."""
    response = responses.setdefault(status, {"description": description})
    if "content" not in response:
        response.update(_refusal(response.get("description") or description, schema))


def document_lookup_errors(result, generator, request, public, **kwargs):
    """Documents what every lookup answers and how empty filters read, in one place (the fuzz tests in
    tests/fuzz check it against the running API):

    - an operation with a path parameter answers 404 when nothing has that id;
    - a paginated list answers 404 for a page past the last, 400 for a page_size that is no whole number;
    - an optional query parameter sent empty (``?status=``, as an HTML form sends a blank field) is the
      same as leaving it out (``allowEmptyValue``).
    """
    for operation in (op for methods in result["paths"].values() for op in methods.values()):
        parameters = operation.get("parameters", [])
        if any(parameter["in"] == "path" for parameter in parameters):
            _document(operation["responses"], "404", "Nothing has that id.")
        if any(parameter["in"] == "query" and parameter["name"] == "page" for parameter in parameters):
            _document(operation["responses"], "404", "The page is past the last one.")
            _document(operation["responses"], "400", "A parameter is invalid, e.g. page_size.", FIELD_ERRORS)
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
    result.setdefault("components", {}).setdefault("schemas", {})[FIELD_ERRORS] = FIELD_ERRORS_SCHEMA
    return result


def document_auth_errors(result, generator, request, public, **kwargs):
    """Adds 429 to rate-limited operations, 401 to operations that need authentication (no anonymous ``{}``
    in ``security``) and 403 to those whose permissions need a role, with the ErrorDetail body."""
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        path = generator.coerce_path(path, method, view)
        operation = result["paths"].get(path if path.startswith("/") else f"/{path}", {}).get(method.lower())
        if operation is None:
            continue
        if view.get_throttles():
            _document(operation["responses"], "429", TOO_MANY_REQUESTS)
        if {} not in operation.get("security", [{}]):
            _document(operation["responses"], "401", NOT_SIGNED_IN)
            if (role := _required_role(view, method)) is not None:
                _document(operation["responses"], "403", _forbidden_description(role))
        operation["responses"] = dict(sorted(operation["responses"].items()))
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_DETAIL] = ERROR_DETAIL_SCHEMA
    result["components"]["schemas"] = dict(sorted(result["components"]["schemas"].items()))
    return result
