"""Real headless Chromium on the dashboards: Debian's /usr/bin/chromium, driven by Playwright for Python.

Nothing downloads a browser (no ``playwright install``): ``make test`` installs Debian's chromium when it
is missing (``make chromium``), and Playwright is given its path. Only Playwright's bundled browser
revision is guaranteed to match its driver; Debian's is close enough for what these tests use, and a
mismatch shows as a launch error here, not as a flaky test.

Each test gets the seeded fleet (committed: the server runs in another thread), a fresh browser context
on pytest-django's ``live_server`` and a ``PageWatch`` that fails the test on any console error, page
error, failed request, answer of 400 or more, request to another host, or Content-Security-Policy
violation. Waits are Playwright's event-driven ones, never sleeps.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.dashboards.seed import seed_fleet
from tests.factories import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections (updates, sync, QUIC probes) are
# refused on a closed network and fill the log; the tests need none of them.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "build" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = (1400, 800)
HEIGHT = 900

# A loaded 2-core CI machine: generous ceilings on event-driven waits (a wait ends as soon as its event).
expect.set_options(timeout=20_000)

# Listens for CSP violations from the first script on, before the page's own scripts run.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium (make test does it).")
    # Playwright's sync API keeps an asyncio loop in this thread while it is started, and Django refuses
    # ORM calls from a thread with a running loop. Our calls are plain sync code that runs while the loop
    # is idle, so the check is lifted for this module's lifetime only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def seeded(transactional_db, live_server):
    return seed_fleet()


class PageWatch:
    """Everything a page did wrong, gathered from the page's events."""

    def __init__(self, page, origin):
        self.page = page
        self.origin = origin
        self.problems = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _request_failed(self, request):
        # A request still in flight when the page navigates away is cancelled (ERR_ABORTED); that is the
        # navigation's doing, not a failure of the page. A missing or refused asset is an HTTP status
        # (_response) or another network error.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def other_host(self, route):
        self.problems.append(f"request to another host: {route.request.url}")
        route.abort()

    def assert_clean(self):
        violations = self.page.evaluate("window.__cspViolations || []")
        assert not self.problems and not violations, "\n".join([*self.problems, *violations])


@pytest.fixture
def open_page(browser, live_server):
    """``open_page(user=None)``: a fresh context and page on the live server, signed in as ``user`` through
    the sign-in form, with a ``PageWatch`` checked when the test ends."""
    contexts = []
    watches = []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(live_server.url))

    def _open(user=None):
        context = browser.new_context(base_url=live_server.url, viewport={"width": WIDTHS[0], "height": HEIGHT})
        contexts.append(context)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        watch = PageWatch(page, origin)
        watches.append(watch)
        # Everything not of this origin is recorded and refused.
        context.route(lambda url: not url.startswith(origin), watch.other_host)
        if user is not None:
            sign_in(page, user.username)
        return page, watch

    yield _open
    try:
        for watch in watches:
            watch.assert_clean()
    finally:
        for context in contexts:
            context.close()


def sign_in(page, username, password=TEST_PASSWORD):
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def check_accessibility(page):
    """axe-core (vendored for tests only) on the page as it is: no serious or critical violation.

    Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> tag with
    axe's source would be refused by that CSP, as it should be)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[node['target'] for node in v['nodes']][:5]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, "\n".join(serious)


def settle(page):
    """Waits for two animation frames: layout and the charts' resize observers have run."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def screenshot(page, name):
    """Saves the whole page at 1400 and 800 px wide under build/screenshots (not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        settle(page)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    settle(page)
