"""OpenAPI schema hooks (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).

``document_errors`` is the one place that documents the API's error answers and their body (``Error``,
the shape of config/errors.py) on every operation where they can happen:

- 400 where the caller sends something to validate: a request body or query parameters;
- 401 where a signed-in caller is needed (no anonymous ``{}`` in ``security``);
- 403 where a role is needed, naming it;
- 404 where the path names something (a path parameter) or a page is asked for;
- 429 where the view throttles (or documents it, as sign-in does).

Views don't list these; a view that does keeps its description, and every 4xx/5xx response gets the
``Error`` body unless its schema already is a superset of it (ingest's ``TelemetryRejection``).
tests/config/test_api_schema_truth.py and tests/config/test_error_shape.py check the result against what
the API really answers.
"""

import types

from accounts.permissions import RolePermission
from accounts.roles import Role
from config.errors import ERROR_TYPES

ERROR = "Error"
ERROR_ITEM = "ErrorItem"
ERROR_ITEM_SCHEMA = {
    "type": "object",
    "description": "One thing wrong with the request.",
    "properties": {
        "field": {
            "type": "string",
            "nullable": True,
            "description": "The field or query parameter (dotted when nested); null for the request as a whole.",
        },
        "index": {"type": "integer", "description": "Position of the item in a batch; only for batch items."},
        "message": {"type": "string", "description": "What is wrong, for people."},
        "code": {"type": "string", "description": "A stable code for programs, e.g. required, min_value."},
    },
    "required": ["field", "message", "code"],
}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the request was refused: the body of every 4xx and 5xx answer of the API.",
    "properties": {
        "type": {"type": "string", "enum": list(ERROR_TYPES), "description": "The kind of error."},
        "detail": {"type": "string", "description": "What is wrong, in one sentence for people."},
        "errors": {
            "type": "array",
            "items": {"$ref": f"#/components/schemas/{ERROR_ITEM}"},
            "description": "Each problem on its own; empty when none is about a particular field.",
        },
        "required_roles": {
            "type": "array",
            "items": {"type": "string", "enum": [role.group_name for role in Role]},
            "description": "403 only: the roles that may make this request.",
        },
    },
    "required": ["type", "detail", "errors"],
}
ERROR_KEYS = set(ERROR_SCHEMA["required"])
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR}"}

NOT_SIGNED_IN = "No valid Bearer token (missing, expired, logged out or revoked)."
INVALID_REQUEST = "A field or parameter is invalid or the body is not JSON; errors names each one."
NOT_FOUND = "Nothing at this address: no such object."
NO_SUCH_PAGE = "No such page: page is below 1, not a number or past the last one."
THROTTLED = "Too many requests; retry after the seconds in the Retry-After header."


def _required_role(view, method):
    """The role the view's permissions need for ``method``, or None when any signed-in caller may call it."""
    request = types.SimpleNamespace(method=method)  # RolePermission reads nothing else
    roles = [
        permission.required_role(request, view)
        for permission in view.get_permissions()
        if isinstance(permission, RolePermission)
    ]
    return max(filter(None, roles), default=None)


def _forbidden_description(role):
    if role is Role.ADMIN:
        return "Signed in, but not an admin (required_roles: admin)."
    return f"Signed in, but without the {role.group_name} role or a higher one (see required_roles)."


def _is_error_shaped(content, schemas):
    """True when the documented JSON body is the Error component or a component holding all its keys."""
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    component = schemas.get(ref.rsplit("/", 1)[-1], {})
    return ref == ERROR_REF["$ref"] or set(component.get("properties", {})) >= ERROR_KEYS


def _may_be_refused(operation, view, method):
    """{status: description} of the error answers this operation can give besides those it documents."""
    refusals = {}
    parameters = operation.get("parameters", [])
    if "requestBody" in operation or any(parameter["in"] == "query" for parameter in parameters):
        refusals["400"] = INVALID_REQUEST
    if {} not in operation.get("security", [{}]):
        refusals["401"] = NOT_SIGNED_IN
        if (role := _required_role(view, method)) is not None:
            refusals["403"] = _forbidden_description(role)
    if any(parameter["in"] == "path" for parameter in parameters):
        refusals["404"] = NOT_FOUND
    elif any(parameter["in"] == "query" and parameter["name"] == "page" for parameter in parameters):
        refusals["404"] = NO_SUCH_PAGE  # DRF's page-number pagination answers 404 for a page that isn't there
    if view.get_throttles():
        refusals["429"] = THROTTLED
    return refusals


def document_errors(result, generator, request, public, **kwargs):
    """Adds 400/401/403/404/429 where they can happen and gives every error answer the Error body."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        path = generator.coerce_path(path, method, view)
        operation = result["paths"].get(path if path.startswith("/") else f"/{path}", {}).get(method.lower())
        if operation is None:
            continue
        responses = operation["responses"]
        for status, description in _may_be_refused(operation, view, method).items():
            responses.setdefault(status, {"description": description})
        for status, response in responses.items():
            content = response.get("content", {})
            if int(status) >= 400 and not _is_error_shaped(content, schemas):
                examples = content.get("application/json", {}).get("examples")  # the view's, kept
                response["content"] = {"application/json": {"schema": ERROR_REF}}
                if examples:
                    response["content"]["application/json"]["examples"] = examples
        operation["responses"] = dict(sorted(responses.items()))
    schemas[ERROR] = ERROR_SCHEMA
    schemas[ERROR_ITEM] = ERROR_ITEM_SCHEMA
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
