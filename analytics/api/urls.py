from django.urls import path

from analytics.api import views

urlpatterns = [
    path("telemetry/hourly/<str:well_id>", views.HourlyTelemetryView.as_view(), name="analytics-hourly"),
    path("telemetry/daily/<str:well_id>", views.DailyTelemetryView.as_view(), name="analytics-daily"),
    path("performance/<str:well_id>", views.PerformanceView.as_view(), name="analytics-performance"),
    path("diagnostics/<str:well_id>", views.DiagnosticSummaryView.as_view(), name="analytics-diagnostics"),
    path("overview", views.OverviewView.as_view(), name="analytics-overview"),
    path("ranking/efficiency", views.EfficiencyRankingView.as_view(), name="analytics-ranking-efficiency"),
    path("ranking/health", views.HealthRankingView.as_view(), name="analytics-ranking-health"),
]
