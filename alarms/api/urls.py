from django.urls import path
from rest_framework.routers import SimpleRouter

from alarms.api.views import (
    AlarmKpiView,
    AlarmViewSet,
    NotificationDeliveryListView,
    NotificationPreferenceView,
    OutOfServiceViewSet,
    WebhookReceiverViewSet,
)

# Mounted at /api/v1/alarms/: the list is /api/v1/alarms/, everything under it has no trailing slash
# (/api/v1/alarms/17/acknowledge, /api/v1/alarms/kpis), like the auth API.
router = SimpleRouter(trailing_slash=False)
router.register("out-of-service", OutOfServiceViewSet, basename="alarm-out-of-service")
router.register("webhooks", WebhookReceiverViewSet, basename="alarm-webhook")
router.register("", AlarmViewSet, basename="alarm")

urlpatterns = [
    path("kpis", AlarmKpiView.as_view(), name="alarm-kpis"),
    path("notifications/preferences", NotificationPreferenceView.as_view(), name="alarm-notification-preferences"),
    path("notifications/deliveries", NotificationDeliveryListView.as_view(), name="alarm-notification-deliveries"),
    *router.urls,
]
