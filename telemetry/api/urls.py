from django.urls import path

from telemetry.api.views import IngestBatchView, IngestReadingView

urlpatterns = [
    path("ingest", IngestReadingView.as_view(), name="telemetry-ingest"),
    path("batch", IngestBatchView.as_view(), name="telemetry-batch"),
]
