"""The integrators' Postman kit is generated from the schema the API serves, and downloadable from its docs."""

import json

import pytest
from django.core.management import call_command

from config.postman import REFRESH_PATH, SIGN_IN_PATH, collection
from tests.config.openapi_responses import operations, published_schema

pytestmark = pytest.mark.django_db


def requests_of(document):
    return [request for folder in document["item"] for request in folder["item"]]


def schema_path(url):
    """The schema path of a Postman URL: /api/v1/wells/:well_id/ -> /api/v1/wells/{well_id}/."""
    return "/" + "/".join(f"{{{part[1:]}}}" if part.startswith(":") else part for part in url["path"])


def test_the_docs_pages_link_the_collection_and_it_downloads(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "(/api/v1/postman.json)" in schema["info"]["description"]  # rendered as a link by Swagger UI and ReDoc
    response = client.get("/api/v1/postman.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert response.json()["info"]["schema"].endswith("/v2.1.0/collection.json")


def test_the_collection_has_every_operation_of_the_schema_once(client):
    schema = client.get("/api/v1/openapi.json").json()
    documented = sorted((method, path) for method, path, _ in operations(schema))
    requests = requests_of(client.get("/api/v1/postman.json").json())
    in_collection = sorted((r["request"]["method"], schema_path(r["request"]["url"])) for r in requests)
    assert in_collection == documented


def test_signing_in_comes_first_and_stores_the_tokens(client):
    requests = requests_of(client.get("/api/v1/postman.json").json())
    first = requests[0]
    assert schema_path(first["request"]["url"]) == SIGN_IN_PATH
    assert first["request"]["auth"] == {"type": "noauth"}
    assert json.loads(first["request"]["body"]["raw"]) == {"username": "{{username}}", "password": "{{password}}"}
    for request in (first, next(r for r in requests if schema_path(r["request"]["url"]) == REFRESH_PATH)):
        script = "\n".join(request["event"][0]["script"]["exec"])
        assert "pm.environment.set('accessToken', tokens.access_token)" in script
        assert "pm.environment.set('refreshToken', tokens.refresh_token)" in script


def test_every_request_checks_its_status_and_body_shape():
    schema = published_schema()
    document = collection(schema)
    assert document["auth"]["bearer"][0]["value"] == "{{accessToken}}"
    for request in requests_of(document):
        path = schema_path(request["request"]["url"])
        operation = schema["paths"][path][request["request"]["method"].lower()]
        script = "\n".join(request["event"][0]["script"]["exec"])
        documented = sorted(int(status) for status in operation["responses"])
        assert f"pm.expect({json.dumps(documented)}).to.include(pm.response.code)" in script, path
        assert "pm.expect(body.errors).to.be.an('array')" in script, path


def test_the_environment_holds_the_base_url_and_the_tokens(client, settings):
    settings.API_SERVERS = ["https://esp.example.com"]
    environment = client.get("/api/v1/postman-environment.json").json()
    values = {value["key"]: value["value"] for value in environment["values"]}
    assert values == {
        "baseUrl": "https://esp.example.com",
        "username": "",
        "password": "",
        "accessToken": "",
        "refreshToken": "",
    }


def test_the_management_command_writes_what_the_api_serves(client, tmp_path):
    call_command("postman_collection", "--output-dir", str(tmp_path), "--base-url", "http://testserver")
    written = json.loads((tmp_path / "esp-platform-postman.json").read_text())
    assert written == client.get("/api/v1/postman.json").json()
    environment = json.loads((tmp_path / "esp-platform-postman-environment.json").read_text())
    assert environment == client.get("/api/v1/postman-environment.json").json()
