"""The Django admin and the API docs pages in real headless Chromium, under the site's
Content-Security-Policy: each page renders with no CSP violation, console error or failed request
(``PageWatch`` in conftest.py), so nothing on them needs an inline script."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_PASSWORD = "a-long-enough-password-1"
# ReDoc's sidebar shows the Redocly logo from its CDN, which the policy refuses on purpose (img-src 'self';
# test_api_docs.py): the one violation expected on that page.
REDOC_LOGO = "cdn.redoc.ly"


def forget_expected_violations(page, watch, host):
    """Drops the refusals of ``host`` (its console line, failed request and violation event) from the watch."""
    watch.problems = [problem for problem in watch.problems if host not in problem]
    page.evaluate(
        "(host) => { window.__cspViolations = window.__cspViolations.filter((v) => !v.includes(host)); }", host
    )


def test_the_admin_runs_under_the_policy(open_page, seeded):
    User.objects.create_superuser("engineer", password=ADMIN_PASSWORD)
    well = seeded.wells[sorted(seeded.wells)[0]]
    page, _ = open_page()
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("engineer")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Wells, alarms and diagnostics")).to_be_visible()
    for url in [
        "/admin/wells/well/",
        f"/admin/wells/well/{well.pk}/change/",
        "/admin/auth/user/add/",
        "/admin/alarms/alarm/",
    ]:
        page.goto(url)
        expect(page.locator("#content")).to_be_visible()
    # The change list's JavaScript (actions, select all) ran: it is a file, so the policy let it.
    page.goto("/admin/wells/well/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("selected")


def test_swagger_ui_renders_the_schema_under_the_policy(open_page, seeded):
    page, _ = open_page()
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="ESP Surveillance Platform API").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()


def test_redoc_renders_the_schema_under_the_policy(open_page, seeded):
    page, watch = open_page()
    page.goto("/api/v1/redoc")
    expect(page.get_by_role("heading", name="ESP Surveillance Platform API").first).to_be_visible()
    expect(page.locator("[data-section-id]").first).to_be_attached()
    forget_expected_violations(page, watch, REDOC_LOGO)
