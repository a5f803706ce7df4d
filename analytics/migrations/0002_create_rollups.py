"""Build the four rollup relations for the storage backend migration telemetry.0001 chose."""

from django.db import migrations


def create_rollups(apps, schema_editor):
    from analytics.rollups import create_rollups as create
    from telemetry.storage import backend

    with schema_editor.connection.cursor() as cursor:
        create(cursor, backend())


def drop_rollups(apps, schema_editor):
    from analytics.rollups import drop_rollups as drop
    from telemetry.storage import backend

    with schema_editor.connection.cursor() as cursor:
        drop(cursor, backend())


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_create_diagnostic_result"),
        ("telemetry", "0001_create_reading_storage"),
    ]

    operations = [migrations.RunPython(create_rollups, drop_rollups)]
