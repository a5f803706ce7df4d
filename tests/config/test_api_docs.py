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


# What a script makes the browser fetch by itself: an element's src (React's createElement("img",
# {src: "https://..."}), el.src = "https://...") or a CSS url(). The bundles hold many more absolute
# URLs (links to click, JSON Schema identifiers, error-page addresses) that nothing fetches.
FETCHED_BY_SCRIPT = re.compile(r"""(?:\bsrc\s*[:=]\s*|url\(\s*)["'`]?(https?://[^"'`)\s]+)""")
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
SAME_ORIGIN_SOURCES = {"'self'", "'none'", "data:", "blob:"}


def content_security_policy(page):
    """{directive: [sources]} of the page's <meta http-equiv="Content-Security-Policy">; {} without one."""
    match = re.search(r"""<meta http-equiv=["']Content-Security-Policy["'] content=(["'])(.*?)\1""", page)
    if not match:
        return {}
    directives = (part.split() for part in match.group(2).split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_docs_pages_load_nothing_from_outside_the_server(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)
    assert external == []
    scripts = []
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", page):
        asset_response = client.get(asset)
        assert asset_response.status_code == 200, asset
        if asset.endswith(".js"):
            scripts.append(b"".join(asset_response.streaming_content).decode())
    # The scripts themselves would fetch from outside (ReDoc shows the Redocly logo from its CDN, with no
    # option to turn it off): the page's policy must forbid the browser every such request.
    fetched = {address for script in scripts for address in FETCHED_BY_SCRIPT.findall(script)}
    if url.endswith("redoc"):
        assert REDOC_LOGO in fetched  # what this test looks for is really in the bundle
    policy = content_security_policy(page)
    for directive in ("img-src", "font-src", "connect-src"):
        assert directive in policy, f"the page lets the browser fetch {directive[:-4]}s from anywhere"
        assert set(policy[directive]) <= SAME_ORIGIN_SOURCES, policy[directive]
