"""Every HTML page carries a Content-Security-Policy that runs no inline script, and whether the API
schema and docs are public is a setting. (tests/browser/test_admin_and_docs.py checks in Chromium that the
pages do nothing the policy refuses.)"""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import WellFactory

pytestmark = pytest.mark.django_db

DOCS = ["/api/v1/openapi.yaml", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/redoc"]


def directives(policy):
    return {name: sources for name, *sources in (part.split() for part in policy.split(";") if part.strip())}


def assert_no_inline_script(response):
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    page = response.content.decode()
    inline = [
        tag for tag in re.findall(r"<script\b[^>]*>", page) if "src=" not in tag and "application/json" not in tag
    ]
    assert inline == [], inline
    assert not re.search(r"\son[a-z]+=", page), "an inline event handler"


@pytest.fixture
def superuser_client():
    engineer = User.objects.create_superuser("engineer", password="a-long-enough-password-1")
    client = Client()
    client.force_login(engineer)
    return client


def test_every_admin_page_has_the_policy(superuser_client):
    well = WellFactory(well_id="WELL-001")
    engineer = User.objects.get(username="engineer")
    pages = [
        "/admin/",
        "/admin/wells/well/",
        f"/admin/wells/well/{well.pk}/change/",
        "/admin/wells/well/add/",
        "/admin/auth/user/",
        f"/admin/auth/user/{engineer.pk}/change/",
        "/admin/alarms/alarm/",
    ]
    for url in pages:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert_no_inline_script(response)
    assert_no_inline_script(Client().get("/admin/login/"))


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_docs_pages_have_the_policy_with_inline_styles_only(client, url):
    response = client.get(url)
    assert_no_inline_script(response)
    assert "'unsafe-inline'" in directives(response["Content-Security-Policy"])["style-src"]


def test_swagger_ui_starts_from_a_script_file(client):
    page = client.get("/api/v1/docs").content.decode()
    start = re.search(r'<script src="(/api/v1/docs\?[^"]*script[^"]*)"', page)
    assert start, "Swagger UI's start-up script is not a file"
    script = client.get(start.group(1).replace("&amp;", "&"))
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


def test_error_pages_and_the_dashboards_have_the_policy(client):
    assert_no_inline_script(client.get("/login"))
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert directives(missing["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_schema_and_docs_are_public_by_default(client):
    for url in DOCS:
        assert client.get(url).status_code == 200, url


def test_with_api_docs_public_off_only_signed_in_users_with_a_role_see_them(settings, client, viewer, bearer_client):
    settings.API_DOCS_PUBLIC = False
    for url in DOCS:
        assert client.get(url).status_code in (401, 403), url
    client.force_login(viewer)
    tokens = bearer_client(viewer)
    for url in DOCS:
        assert client.get(url).status_code == 200, url
        assert tokens.get(url).status_code == 200, url
