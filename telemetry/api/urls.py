from django.urls import path

from telemetry.api.query import ReadingExportView, ReadingPageView
from telemetry.api.views import IngestBatchView, IngestReadingView

urlpatterns = [
    path("ingest", IngestReadingView.as_view(), name="telemetry-ingest"),
    path("batch", IngestBatchView.as_view(), name="telemetry-batch"),
    path("readings", ReadingPageView.as_view(), name="telemetry-readings"),
    path("export.csv", ReadingExportView.as_view(), name="telemetry-export"),
]
