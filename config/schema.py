"""OpenAPI schema hooks (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).

``document_auth_errors`` is the one place that documents 401 and 403: every operation that needs a
signed-in caller gets a 401, every one that needs a role a 403 naming it, both with the body DRF sends
(``ErrorDetail``). Views don't list them; a view that does keeps its description and gets the body.
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
NOT_SIGNED_IN = "No valid Bearer token (missing, expired, logged out or revoked)."


def _refusal(description):
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_DETAIL}"}}},
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


def _document(responses, status, description):
    """Adds the response for ``status`` unless the view documented it; gives it the error body if it has none."""
    response = responses.setdefault(status, {"description": description})
    if "content" not in response:
        response.update(_refusal(response.get("description") or description))


def document_auth_errors(result, generator, request, public, **kwargs):
    """Adds 401 to operations that need authentication (no anonymous ``{}`` in ``security``) and 403 to
    those whose permissions need a role, with the ErrorDetail body."""
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        path = generator.coerce_path(path, method, view)
        operation = result["paths"].get(path if path.startswith("/") else f"/{path}", {}).get(method.lower())
        if operation is None or {} in operation.get("security", [{}]):
            continue
        _document(operation["responses"], "401", NOT_SIGNED_IN)
        if (role := _required_role(view, method)) is not None:
            _document(operation["responses"], "403", _forbidden_description(role))
        operation["responses"] = dict(sorted(operation["responses"].items()))
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_DETAIL] = ERROR_DETAIL_SCHEMA
    result["components"]["schemas"] = dict(sorted(result["components"]["schemas"].items()))
    return result
