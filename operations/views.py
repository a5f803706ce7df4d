"""Health endpoints for load balancers and monitoring."""

import time

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
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
def health(request):
    return Response(
        {
            "status": "healthy",
            "timestamp": timezone.now(),
            "version": settings.VERSION,
            "uptime": int(time.monotonic() - STARTED_AT),
        }
    )
