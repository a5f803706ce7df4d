"""The API's Bearer-token authentication: simplejwt's checks plus logout and revocation.

On top of signature, expiry and token type (simplejwt), a token is refused when:
- it was logged out (``LoggedOutAccessToken``), or
- its user is gone, inactive, or had all tokens revoked since it was issued (token epoch).

The user, their token epoch, whether this token was logged out and their role groups come from one
prepared SQL statement (psycopg's server-side prepared statements), so that neither this nor the role
check that follows costs another round trip (and Redis is not asked at all: authentication works while
Redis is down); through the ORM the same took three queries and several times as long
(tests/benchmarks/test_token_validation.py measures it).
"""

import functools

import psycopg
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from psycopg import sql
from psycopg.types.numeric import Int8
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts import tokens
from accounts.models import LoggedOutAccessToken, TokenEpoch
from accounts.roles import ROLE_NAMES, remember_role

# Everything a request needs to know about the caller, in one round trip: the user's row, their token
# epoch (0 when their tokens were never revoked), whether this token was logged out, and the names of
# the role groups they are in. Tables and columns are the models' (a custom user model has its own);
# %(user_id)s is the user's primary key, %(roles)s the role group names, %(jti)s the token's id.
TOKEN_USER_SQL = sql.SQL("""
    SELECT {user_columns},
           COALESCE(epoch.epoch, 0),
           EXISTS (SELECT 1 FROM {logged_out} AS logged_out WHERE logged_out.jti = %(jti)s),
           ARRAY(
               SELECT g.name
               FROM {membership} AS membership
               JOIN {groups} AS g ON g.id = membership.{membership_group}
               WHERE membership.{membership_user} = u.{user_pk} AND g.name = ANY(%(roles)s)
           )
    FROM {users} AS u
    LEFT JOIN {epochs} AS epoch ON epoch.{epoch_user} = u.{user_pk}
    WHERE u.{user_pk} = %(user_id)s
""")


@functools.cache
def _token_user_query():
    """(TOKEN_USER_SQL for the installed user model, the user model's attribute names in its column order)."""
    user_model = get_user_model()
    fields = user_model._meta.concrete_fields
    groups = user_model._meta.get_field("groups")
    query = TOKEN_USER_SQL.format(
        user_columns=sql.SQL(", ").join(sql.Identifier("u", field.column) for field in fields),
        user_pk=sql.Identifier(user_model._meta.pk.column),
        users=sql.Identifier(user_model._meta.db_table),
        membership=sql.Identifier(groups.m2m_db_table()),
        membership_user=sql.Identifier(groups.m2m_column_name()),
        membership_group=sql.Identifier(groups.m2m_reverse_name()),
        groups=sql.Identifier(groups.related_model._meta.db_table),
        logged_out=sql.Identifier(LoggedOutAccessToken._meta.db_table),
        epochs=sql.Identifier(TokenEpoch._meta.db_table),
        epoch_user=sql.Identifier(TokenEpoch._meta.get_field("user").column),
    )
    return query.as_string(), [field.attname for field in fields]


class _PreparingCursor(psycopg.Cursor):
    """A psycopg cursor that binds parameters on the server and prepares what it runs on first use.

    Django's own cursors bind parameters on the client, which PostgreSQL can't prepare.
    """

    def __init__(self, connection, *, keep_query_text):
        super().__init__(connection)
        self.keep_query_text = keep_query_text

    def execute(self, query, params=None, *, prepare=True, binary=None):
        super().execute(query, params, prepare=prepare, binary=binary)
        if self.keep_query_text and self._query is None:
            # psycopg keeps no query text for a prepared execution; Django's query log reads it from here.
            self._query = self._convert_query(query, params)
        return self


def load_token_user(user_id, jti):
    """(user, token epoch, whether token ``jti`` was logged out) for the user with primary key
    ``user_id``, or None. The user's role is cached on it for ``role_of``. One query.

    PostgreSQL spends most of that query's time planning it, so it runs as a prepared statement: psycopg
    prepares it on a connection's first check and then only executes it (one round trip). Prepared
    statements live as long as the connection, so this needs direct or pooled (session) connections,
    not PgBouncer's transaction pooling.
    """
    query, attnames = _token_user_query()
    parameters = {"user_id": Int8(user_id), "roles": list(ROLE_NAMES), "jti": jti}
    connection.ensure_connection()
    # Wrapped as Django wraps its own cursors: the query is logged, counted and its errors are Django's.
    cursor = _PreparingCursor(connection.connection, keep_query_text=connection.queries_logged)
    with connection._prepare_cursor(cursor) as cursor:
        cursor.execute(query, parameters)
        row = cursor.fetchone()
    if row is None:
        return None
    *user_values, epoch, logged_out, role_groups = row
    user = get_user_model().from_db(connection.alias, attnames, user_values)
    remember_role(user, role_groups)
    return user, epoch, logged_out


class PlatformJWTAuthentication(JWTAuthentication):
    """Authenticates ``Authorization: Bearer <access token>`` and refuses logged-out or revoked tokens."""

    def get_user(self, validated_token):
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
            jti = str(validated_token[api_settings.JTI_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken(_("Token contained no recognizable user identification")) from None
        found = load_token_user(user_id, jti)
        if found is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        user, epoch, logged_out = found
        if logged_out:
            raise InvalidToken(_("Token has been logged out"), code="token_logged_out")
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if not tokens.is_current(validated_token, epoch):
            raise AuthenticationFailed(_("Token has been revoked"), code="token_revoked")
        return user


class PlatformJWTScheme(SimpleJWTScheme):
    """Documents ``PlatformJWTAuthentication`` in the OpenAPI schema as the Bearer JWT scheme."""

    target_class = PlatformJWTAuthentication
