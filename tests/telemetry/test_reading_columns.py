"""A reading's columns are listed once (telemetry.storage.schema); every other spelling must agree with it."""

import msgspec
import pytest
from django.db import connection

from telemetry.ingest import ReadingIn
from telemetry.models import Reading
from telemetry.storage.schema import METRIC_COLUMNS, READING_COLUMNS


@pytest.mark.django_db
def test_the_database_table_has_the_reading_columns_in_order():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'telemetry_reading' "
            "ORDER BY ordinal_position"
        )
        assert tuple(name for (name,) in cursor.fetchall()) == READING_COLUMNS


def test_the_model_has_the_reading_columns():
    assert tuple(field.column for field in Reading._meta.concrete_fields) == READING_COLUMNS


def test_a_device_may_send_every_metric_and_no_other():
    sent = [field.name for field in msgspec.structs.fields(ReadingIn)]
    assert sent == ["well_id", "timestamp", *METRIC_COLUMNS]
