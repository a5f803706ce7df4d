"""The Content-Security-Policy of every HTML page the platform serves: admin, API docs, dashboards, and
Django's own error pages.

Every script comes from this origin as a file: no inline script, no ``eval``. Nothing loads from another
host, forms post only here, and no other site may frame a page. Styles are this origin's files too, except
on the API docs pages: Swagger UI and ReDoc write their styles into the page as they render, so there
``style-src`` also allows inline styles (scripts stay strict).
"""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
API_DOCS_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    .replace("img-src 'self' data:", "img-src 'self' data: blob:")
    .replace("font-src 'self'", "font-src 'self' data:")
    + "; worker-src 'self' blob:"
)
API_DOCS_PATHS = ("/api/v1/docs", "/api/v1/redoc")


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every HTML response that has none of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            policy = API_DOCS_POLICY if request.path in API_DOCS_PATHS else CONTENT_SECURITY_POLICY
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
