"""Benchmarks run against the database DATABASE_URL names as it is (``make bench`` points it at
``esp_bench``), migrated here, so large generated data sets survive between runs. Tests marked
``django_db`` still roll back; benchmarks that need committed data unblock the database themselves."""

import pytest
from django.core.management import call_command


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    with django_db_blocker.unblock():
        call_command("ensure_database")
        call_command("migrate", verbosity=0)
