"""The Celery application: Redis broker, schedules kept in the database (django-celery-beat).

Periodic tasks are declared in ``CELERY_BEAT_SCHEDULE`` in code; django-celery-beat's database
scheduler copies them into its tables on start so admins can see, pause and re-time them in the
Django admin.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("esp_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
