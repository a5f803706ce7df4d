"""Test set-up that rewrites the append-only audit tables, which refuse UPDATE and DELETE by trigger."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def rewriting_audit_trail():
    """Inside the block, triggers don't fire (the test database's superuser may do this; the platform can't)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
