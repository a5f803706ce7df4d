"""Replace the PostgreSQL rollup views' raw arm with per-bucket functions (see rollups/postgres.py).

The views of 0002 joined every readings partition on every read; planning that join cost tens of
milliseconds with a year of daily partitions. Same columns, so dependent views stay valid.
"""

from django.conf import settings
from django.db import migrations


def install_views(apps, schema_editor):
    from analytics.rollups import postgres
    from telemetry.storage import backend

    if backend() == "postgres":
        with schema_editor.connection.cursor() as cursor:
            postgres.install_views(cursor, settings.ANALYTICS_TIMEZONE)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_create_rollups")]

    operations = [migrations.RunPython(install_views, migrations.RunPython.noop)]
