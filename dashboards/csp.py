"""The Content-Security-Policy of the dashboards' responses, and the decorator that adds it.

Everything the pages use is served by this origin: the vendored uPlot, the dashboards' own CSS and JS,
chart data from a JSON endpoint. No inline script and no inline style may run (chart data that a page
carries sits in ``<script type="application/json">`` blocks, which are never executed), nothing loads
from another host, forms post only here, and no other site may frame the pages. SVG drawn on the server
uses presentation attributes, not style attributes, so it needs no exception either.

The policy is the site-wide one (``config.csp``, which the middleware puts on every other HTML page);
the decorator keeps it on the dashboards' JSON and fragments too.
"""

import functools

from config.csp import CONTENT_SECURITY_POLICY


def content_security_policy(view):
    """Decorates a view so that its response carries ``CONTENT_SECURITY_POLICY`` (unless it has one)."""

    @functools.wraps(view)
    def with_policy(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return with_policy
