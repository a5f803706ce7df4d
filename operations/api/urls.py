from django.urls import path

from operations.api.views import BackupListView

# Mounted at /api/v1/operations/.
urlpatterns = [
    path("backups", BackupListView.as_view(), name="operations-backups"),
]
