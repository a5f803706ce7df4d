"""The integrators' kit: a Postman collection (v2.1) and environment generated from the OpenAPI schema.

Generated at request time from the schema the API serves, so it can't fall behind it:
GET /api/v1/postman.json and /api/v1/postman-environment.json (linked from the docs pages), or
``manage.py postman_collection`` to write both files.

The collection has one request per operation, in folders by tag, signing in first. Every request but
sign-in and refresh authenticates with ``{{accessToken}}``; sign-in and refresh store the tokens they get
into the environment. Each request's test script checks that the status is one the schema documents and
the body's shape: the error body (``type``, ``detail``, ``errors``) for a 4xx/5xx, the documented
required keys otherwise.
"""

import json

from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

COLLECTION_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
SIGN_IN_PATH = "/api/v1/auth/login"
REFRESH_PATH = "/api/v1/auth/refresh"
LOCAL_BASE_URL = "http://localhost:8000"
# Values for path parameters that name something the demo data has (manage.py load_demo).
PATH_EXAMPLES = {"well_id": "WELL-001"}
# Request-body fields the environment fills in.
BODY_VARIABLES = {"username": "{{username}}", "password": "{{password}}", "refresh_token": "{{refreshToken}}"}
ERROR_KEYS = ("type", "detail", "errors")
_PLACEHOLDERS = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def default_base_url():
    """The first of API_SERVERS, or a local development server."""
    return settings.API_SERVERS[0] if settings.API_SERVERS else LOCAL_BASE_URL


def _resolve(schema, node):
    """``node`` with a top-level ``$ref`` followed."""
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node or {}


def _skeleton(schema, node):
    """A body with the required fields of ``node``, for operations whose schema has no example."""
    node = _resolve(schema, node)
    return {
        name: _PLACEHOLDERS.get(_resolve(schema, node["properties"][name]).get("type"))
        for name in node.get("required", [])
    }


def _example_body(schema, operation):
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    if examples := content.get("examples"):
        body = next(iter(examples.values()))["value"]
    else:
        body = content.get("example", _skeleton(schema, content.get("schema", {})))
    if isinstance(body, dict):
        body = {key: BODY_VARIABLES.get(key, value) for key, value in body.items()}
    return body


def _parameter_value(parameter):
    if "example" in parameter:
        return parameter["example"]
    if parameter["name"] in PATH_EXAMPLES:
        return PATH_EXAMPLES[parameter["name"]]
    described = parameter.get("schema", {})
    if "enum" in described:
        return described["enum"][0]
    return described.get("default", "1" if parameter["in"] == "path" else "")


def _url(path, parameters):
    segments = [f":{part[1:-1]}" if part.startswith("{") else part for part in path.strip("/").split("/")]
    if path.endswith("/"):
        segments.append("")
    url = {"raw": "{{baseUrl}}/" + "/".join(segments), "host": ["{{baseUrl}}"], "path": segments}
    path_variables = [
        {"key": p["name"], "value": str(_parameter_value(p)), "description": p.get("description", "")}
        for p in parameters
        if p["in"] == "path"
    ]
    query = [
        {
            "key": p["name"],
            "value": str(_parameter_value(p)),
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p["in"] == "query"
    ]
    if path_variables:
        url["variable"] = path_variables
    if query:
        url["query"] = query
    return url


def _success_keys(schema, operation):
    """The required top-level keys of the documented JSON body of the operation's first 2xx answer."""
    for status, response in sorted(operation["responses"].items()):
        if status.startswith("2"):
            body = _resolve(schema, response.get("content", {}).get("application/json", {}).get("schema", {}))
            return body.get("required", []) if body.get("type") == "object" else []
    return []


def _test_script(schema, path, operation):
    documented = sorted(int(status) for status in operation["responses"] if status.isdigit())
    lines = [
        f"pm.test('status is one the schema documents {documented}', function () {{",
        f"    pm.expect({json.dumps(documented)}).to.include(pm.response.code);",
        "});",
        "if (pm.response.code >= 400) {",
        "    pm.test('the error body has type, detail and errors', function () {",
        "        const body = pm.response.json();",
        "        pm.expect(body.type).to.be.a('string');",
        "        pm.expect(body.detail).to.be.a('string');",
        "        pm.expect(body.errors).to.be.an('array');",
        "    });",
    ]
    if keys := _success_keys(schema, operation):
        lines += [
            "} else {",
            f"    pm.test('the body has {', '.join(keys)}', function () {{",
            f"        pm.expect(pm.response.json()).to.include.all.keys({json.dumps(keys)});",
            "    });",
        ]
    lines.append("}")
    if path in (SIGN_IN_PATH, REFRESH_PATH):
        lines += [
            "if (pm.response.code === 200) {",
            "    const tokens = pm.response.json();",
            "    pm.environment.set('accessToken', tokens.access_token);",
            "    pm.environment.set('refreshToken', tokens.refresh_token);",
            "}",
        ]
    return lines


def _request(schema, path, method, operation):
    request = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": _url(path, operation.get("parameters", [])),
        "description": operation.get("description", operation.get("summary", "")),
    }
    if (body := _example_body(schema, operation)) is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(body, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}},
        }
    if {} in operation.get("security", [{}]):
        request["auth"] = {"type": "noauth"}
    return {
        "name": operation.get("summary") or f"{method.upper()} {path}",
        "request": request,
        "event": [
            {"listen": "test", "script": {"type": "text/javascript", "exec": _test_script(schema, path, operation)}}
        ],
    }


def collection(schema):
    """The Postman collection (v2.1) of every operation in the OpenAPI ``schema``, signing in first."""
    folders = {}
    sign_in_folder = None
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            folder = (operation.get("tags") or ["Other"])[0]
            request = _request(schema, path, method, operation)
            if path == SIGN_IN_PATH:
                sign_in_folder = folder
                folders.setdefault(folder, []).insert(0, request)
            else:
                folders.setdefault(folder, []).append(request)
    items = [{"name": name, "item": requests} for name, requests in folders.items()]
    items.sort(key=lambda folder: folder["name"] != sign_in_folder)  # stable: the rest keep the schema's order
    return {
        "info": {
            "name": schema["info"]["title"],
            "description": (
                f"Generated from the OpenAPI schema (version {schema['info']['version']}). Run 'Sign in' first: "
                "it stores accessToken and refreshToken in the environment for the other requests."
            ),
            "schema": COLLECTION_SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "item": items,
    }


def environment(base_url):
    """The Postman environment: the base URL, sign-in credentials to fill in, and the tokens sign-in stores."""
    variables = [("baseUrl", base_url, "default"), ("username", "", "default")]
    variables += [(name, "", "secret") for name in ("password", "accessToken", "refreshToken")]
    return {
        "name": "ESP Surveillance Platform",
        "values": [{"key": key, "value": value, "type": kind, "enabled": True} for key, value, kind in variables],
        "_postman_variable_scope": "environment",
    }


def published_schema(request=None):
    """The OpenAPI document as /api/v1/openapi.json serves it."""
    return SchemaGenerator().get_schema(request=request, public=True)


class PostmanCollectionView(APIView):
    """GET /api/v1/postman.json: the collection, generated from the schema the API serves."""

    authentication_classes = []
    permission_classes = [AllowAny]  # like the schema and the docs pages it is linked from
    schema = None  # not an operation of the API itself

    def get(self, request):
        return Response(collection(published_schema(request)), headers={"Content-Disposition": _attachment("postman")})


class PostmanEnvironmentView(APIView):
    """GET /api/v1/postman-environment.json: the environment, its baseUrl this server unless API_SERVERS says."""

    authentication_classes = []
    permission_classes = [AllowAny]
    schema = None

    def get(self, request):
        base_url = settings.API_SERVERS[0] if settings.API_SERVERS else request.build_absolute_uri("/").rstrip("/")
        return Response(environment(base_url), headers={"Content-Disposition": _attachment("postman-environment")})


def _attachment(name):
    return f'attachment; filename="esp-platform-{name}.json"'
