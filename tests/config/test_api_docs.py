import json
import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_it_serves_the_schema_as_yaml_and_json(client):
    schema = yaml.safe_load(client.get("/api/v1/openapi.yaml").content)
    assert "/api/v1/wells/" in schema["paths"]
    response = client.get("/api/v1/openapi.json")
    assert response["Content-Type"].startswith("application/")
    assert response.json()["openapi"].startswith("3.")


def test_every_operation_has_a_summary_tags_and_examples(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("tags"), f"{method.upper()} {path} has no tags"
            if method != "delete":  # a DELETE has no body to show
                assert '"example' in json.dumps(operation), f"{method.upper()} {path} has no example"


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_docs_pages_load_nothing_from_outside_the_server(client, url):
    page = client.get(url).content.decode()
    assert client.get(url).status_code == 200
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
    assert external == []
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", page):
        assert client.get(asset).status_code == 200, asset
