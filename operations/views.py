"""Health endpoints for load balancers and monitoring, and the Prometheus metrics.

- ``GET /health``: liveness — the process answers; no I/O (DRF, in the API schema).
- ``GET /health/ready``: readiness — every dependency checked with its own deadline
  (``operations.health``); 503 when unhealthy. Plain JSON, never the browsable API.
- ``GET /metrics``: Prometheus text format (``operations.metrics``); with ``METRICS_TOKEN`` set, only
  for ``Authorization: Bearer <METRICS_TOKEN>``.
"""

import hmac
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.response import Response

STARTED_AT = time.monotonic()


@extend_schema(
    summary="Liveness check",
    description="Answers without authentication and without touching the database, for load balancers.",
    tags=["System"],
    responses=inline_serializer(
        "HealthResponse",
        {
            "status": serializers.CharField(),
            "timestamp": serializers.DateTimeField(),
            "version": serializers.CharField(),
            "uptime": serializers.IntegerField(help_text="Seconds since this process started."),
        },
    ),
    examples=[
        OpenApiExample(
            "Up",
            value={"status": "healthy", "timestamp": "2026-11-28T10:00:00Z", "version": "0.1.0", "uptime": 3600},
            response_only=True,
        )
    ],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])  # load balancers probe it; it must never answer 429
def health(request):
    return Response(
        {
            "status": "healthy",
            "timestamp": timezone.now(),
            "version": settings.VERSION,
            "uptime": int(time.monotonic() - STARTED_AT),
        }
    )


@never_cache
@require_GET
def ready(request):
    """Readiness of this server and the platform behind it; 503 when unhealthy (operations.health)."""
    from operations.health import UNHEALTHY, readiness

    report = readiness()
    return JsonResponse(report, status=503 if report["status"] == UNHEALTHY else 200)


def _metrics_authorized(request):
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    """Prometheus metrics of every platform process on this host, plus database-backed gauges."""
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    from operations.metrics import exposition

    if not _metrics_authorized(request):
        response = HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes
