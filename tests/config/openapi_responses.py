"""Checking real API responses against the OpenAPI schema the platform publishes."""

import jsonschema
from drf_spectacular.generators import SchemaGenerator


def published_schema():
    """The OpenAPI document as /api/v1/openapi.json serves it."""
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    """(method, path, operation) of every operation in ``schema``."""
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def _as_json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable: true`` becomes "or null"."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def response_problems(schema, method, path, response):
    """Why ``response`` does not match what ``schema`` documents for ``method path``: a list, empty when it does."""
    documented = schema["paths"][path][method.lower()]["responses"]
    status = str(response.status_code)
    if status not in documented:
        return [f"{method} {path}: status {status} is not documented (documented: {sorted(documented)})"]
    content = documented[status].get("content")
    if content is None:
        return [] if not response.content else [f"{method} {path}: {status} has a body but no documented schema"]
    media_type = response["Content-Type"].split(";")[0]
    if media_type not in content:
        return [f"{method} {path}: {status} answered {media_type}, documented {sorted(content)}"]
    validator = jsonschema.Draft4Validator(
        {"components": _as_json_schema(schema["components"]), **_as_json_schema(content[media_type]["schema"])},
        format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
    )
    return [
        f"{method} {path} {status} at {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(response.json())
    ]
