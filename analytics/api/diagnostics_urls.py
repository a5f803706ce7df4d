"""Mounted at /api/v1/diagnostics/ (the findings are the analytics app's; the path is the original platform's)."""

from django.urls import path

from analytics.api import diagnostics

urlpatterns = [
    path("", diagnostics.FindingListView.as_view(), name="diagnostics-list"),
    path("run/<str:well_id>", diagnostics.RunDiagnosticsView.as_view(), name="diagnostics-run"),
]
