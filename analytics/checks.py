"""A system check: the views and functions the database has deployed are the ones the code defines.

Migrations hold literal copies of the rollups' SQL, so editing ``analytics.scoring`` or
``analytics.rollups`` changes nothing in an existing database until a new migration deploys it.
This check compares each deployed view (``pg_get_viewdef``) and function (``pg_proc``) with the
code's definition, made into a temporary object in a rolled-back transaction so PostgreSQL
normalizes both the same way, and compares ``analytics_timezone()`` with ANALYTICS_TIMEZONE.

- the migration that deploys the code's definitions is not applied yet: a warning, run it (a
  warning so that ``migrate`` itself, which runs the checks first, is not stopped);
- it is applied and the database still differs: an error, the code changed without a migration.

Silent when the database cannot be reached or has not been migrated this far (``make test`` runs
the checks before it creates the database).
"""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

DEPLOYED_VIEW = "SELECT pg_get_viewdef(to_regclass(%s), true)"
DEPLOYED_FUNCTION = """
SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.prosrc
FROM pg_proc p WHERE p.oid = to_regprocedure(%s)
"""
EXPECTED_NAME = "pg_temp.expected_definition"
CREATE_EXPECTED_VIEW = "CREATE TEMP VIEW expected_definition AS {query}"


def _applied(name):
    return MigrationRecorder(connection).migration_qs.filter(app="analytics", name=name).exists()


def _normalized(text):
    return " ".join(text.split()) if text is not None else None


def _deployed(cursor, kind, name, statement):
    """The normalized definition of view or function ``name`` as deployed; None when absent."""
    if kind == "view":
        cursor.execute(DEPLOYED_VIEW, [name])
        (definition,) = cursor.fetchone()
        return _normalized(definition)
    signature = statement.split("(", 1)[1].split(")", 1)[0]  # the argument list, e.g. "p_well bigint"
    types = ", ".join(argument.split()[-1] for argument in signature.split(",") if argument.strip())
    cursor.execute(DEPLOYED_FUNCTION, [f"{name}({types})"])
    row = cursor.fetchone()
    return tuple(map(_normalized, row)) if row else None


def _expected(cursor, kind, name, statement):
    """The code's definition, created as a temporary object and read back like the deployed one."""
    if kind == "view":
        cursor.execute(CREATE_EXPECTED_VIEW.format(query=statement))
        return _deployed(cursor, kind, EXPECTED_NAME, statement)
    cursor.execute(statement.replace(f"FUNCTION {name}(", f"FUNCTION {EXPECTED_NAME}(", 1))
    return _deployed(cursor, kind, EXPECTED_NAME, statement)


def differences():
    """[(relation or function name, migration that deploys the code's definition)] that differ.

    Raises DatabaseError when the database can't be read; returns [] before the rollups exist.
    """
    from analytics.rollups import shared, storage

    backend = storage()
    if backend is None:
        return []
    wanted = [(shared.DEPLOYED_BY, *d) for d in shared.definitions()]
    wanted += [(backend.DEPLOYED_BY, *d) for d in backend.definitions()]
    differing = []
    with transaction.atomic(), connection.cursor() as cursor:
        for migration, kind, name, statement in wanted:
            deployed = _deployed(cursor, kind, name, statement)
            try:
                with transaction.atomic():  # a savepoint: the temporary definition is rolled back
                    expected = _expected(cursor, kind, name, statement)
                    transaction.set_rollback(True)
            except DatabaseError:
                expected = None  # it needs objects a pending migration creates
            if deployed is None or deployed != expected:
                differing.append((name, migration))
    return differing


def deployed_timezone():
    """The zone of the database's local days (analytics_timezone()), or None before it exists."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('analytics_timezone()') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT analytics_timezone()")
        return cursor.fetchone()[0]


@register()
def deployed_rollups_match_the_code(app_configs, **kwargs):
    try:
        if not MigrationRecorder(connection).has_table():
            return []
        differing = differences()
        zone = deployed_timezone()
    except DatabaseError:
        return []  # not reachable, or not migrated this far: nothing deployed to compare yet
    messages = []
    for name, migration in differing:
        if not _applied(migration):
            messages.append(
                Warning(
                    f"{name} in the database is older than the code's definition.",
                    hint=f"Run `manage.py migrate analytics` (analytics.{migration} is not applied).",
                    id="analytics.W001",
                )
            )
        else:
            messages.append(
                Error(
                    f"{name} in the database differs from the code's definition, and analytics.{migration}, "
                    "the migration that deploys it, is applied: the definition was changed without a migration.",
                    hint=f"Add a migration after analytics.{migration} carrying the new DDL literally, name it in "
                    "DEPLOYED_BY, and run `manage.py migrate analytics`.",
                    id="analytics.E001",
                )
            )
    if zone is not None and zone != settings.ANALYTICS_TIMEZONE:
        messages.append(
            Error(
                f"The database's daily rollups are cut on local days of {zone}, but ANALYTICS_TIMEZONE is "
                f"{settings.ANALYTICS_TIMEZONE}.",
                hint=f"Set ANALYTICS_TIMEZONE={zone}, or rebuild the rollups in the new zone: "
                "`manage.py migrate analytics 0001` then `manage.py migrate analytics` and "
                "`manage.py refresh_rollups --from … --to …`.",
                id="analytics.E002",
            )
        )
    return messages
