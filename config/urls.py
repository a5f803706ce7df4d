"""URL map: the admin, the API under /api/v1/ (one include per app), its docs and Postman kit, and health."""

from django.contrib import admin
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
    SpectacularYAMLAPIView,
)

from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.permissions import ApiDocsPermission
from config.postman import PostmanCollectionView, PostmanEnvironmentView
from operations.views import health, metrics, ready

docs = [ApiDocsPermission]
api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("wells.api.urls")),
    path("analytics/", include("analytics.api.urls")),
    path("alarms/", include("alarms.api.urls")),
    path("diagnostics/", include("analytics.api.diagnostics_urls")),
    path("telemetry/", include("telemetry.api.urls")),
    path("operations/", include("operations.api.urls")),
    # Public or not by API_DOCS_PUBLIC. Swagger UI's start-up script is served as a file of its own (the
    # "split" view), so the page needs no inline script (config/csp.py).
    path("openapi.yaml", SpectacularYAMLAPIView.as_view(permission_classes=docs), name="schema-yaml"),
    path("openapi.json", SpectacularJSONAPIView.as_view(permission_classes=docs), name="schema-json"),
    path(
        "docs", SpectacularSwaggerSplitView.as_view(url_name="schema-yaml", permission_classes=docs), name="swagger-ui"
    ),
    path("redoc", SpectacularRedocView.as_view(url_name="schema-yaml", permission_classes=docs), name="redoc"),
    # The integrators' kit, linked from the docs pages (SPECTACULAR_SETTINGS["DESCRIPTION"]).
    path("postman.json", PostmanCollectionView.as_view(permission_classes=docs), name="postman-collection"),
    path(
        "postman-environment.json",
        PostmanEnvironmentView.as_view(permission_classes=docs),
        name="postman-environment",
    ),
]

urlpatterns = [
    path("health", health, name="health"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("dashboards.urls")),
]

# Django's own 400/404/500 answer in the API's error shape on /api/ paths (config/errors.py).
handler400 = "config.errors.bad_request"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = "ESP Surveillance Platform"
admin.site.site_title = "ESP Surveillance"
admin.site.index_title = "Wells, alarms and diagnostics"


def page_not_found(request, exception):
    """A URL under /api/ that matches no route (``/api/v1/alarms/abc``: ids are numbers) is a JSON 404 in
    the API's error body, as every other API error; elsewhere Django's own page."""
    if request.path.startswith("/api/"):
        body = {"type": "not_found", "detail": "No API endpoint or object at this address.", "errors": []}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """A request Django refuses before any view runs (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many
    fields): under /api/ JSON in the API's error body, 413 for a body too large; elsewhere Django's page."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        body = {"type": "payload_too_large", "detail": "The request body is too large.", "errors": []}
        return JsonResponse(body, status=413)
    return JsonResponse({"type": "parse_error", "detail": "The request could not be read.", "errors": []}, status=400)


handler400 = bad_request
handler404 = page_not_found
