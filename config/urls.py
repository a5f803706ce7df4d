"""URL map: the admin, the API under /api/v1/ (one include per app), its docs and Postman kit, and health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
    SpectacularYAMLAPIView,
)

from accounts.forms import ThrottledAdminAuthenticationForm
from config.postman import PostmanCollectionView, PostmanEnvironmentView
from operations.views import health, metrics, ready

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("wells.api.urls")),
    path("analytics/", include("analytics.api.urls")),
    path("alarms/", include("alarms.api.urls")),
    path("diagnostics/", include("analytics.api.diagnostics_urls")),
    path("telemetry/", include("telemetry.api.urls")),
    path("operations/", include("operations.api.urls")),
    path("openapi.yaml", SpectacularYAMLAPIView.as_view(), name="schema-yaml"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema-json"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema-yaml"), name="swagger-ui"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema-yaml"), name="redoc"),
    # The integrators' kit, linked from the docs pages (SPECTACULAR_SETTINGS["DESCRIPTION"]).
    path("postman.json", PostmanCollectionView.as_view(), name="postman-collection"),
    path("postman-environment.json", PostmanEnvironmentView.as_view(), name="postman-environment"),
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
