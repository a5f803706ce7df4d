"""The API's Bearer-token authentication: simplejwt's checks plus logout and revocation.

On top of signature, expiry and token type (simplejwt), a token is refused when:
- it was logged out (``LoggedOutAccessToken``), or
- its user is gone, inactive, or had all tokens revoked since it was issued (token epoch).

The user, their token epoch, whether this token was logged out and their role groups come from one
prepared SQL statement, so that neither this nor the role check that follows costs another round trip
(and Redis is not asked at all: authentication works while Redis is down); through the ORM the same took
three queries and several times as long (tests/benchmarks/test_token_validation.py measures it).
"""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts import tokens
from accounts.roles import ROLE_NAMES, remember_role

USER_COLUMNS = [
    "id",
    "password",
    "last_login",
    "is_superuser",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
]

# Everything a request needs to know about the caller, in one round trip: the user's row, their token
# epoch (0 when their tokens were never revoked), whether this token was logged out, and the names of
# the role groups they are in. $1: the user's id; $2: the role group names; $3: the token's id (jti).
TOKEN_USER_SQL = f"""
    SELECT {", ".join(f"u.{column}" for column in USER_COLUMNS)},
           COALESCE(epoch.epoch, 0),
           EXISTS (SELECT 1 FROM accounts_loggedoutaccesstoken AS logged_out WHERE logged_out.jti = $3),
           ARRAY(
               SELECT g.name
               FROM auth_user_groups AS membership
               JOIN auth_group AS g ON g.id = membership.group_id
               WHERE membership.user_id = u.id AND g.name = ANY($2)
           )
    FROM auth_user AS u
    LEFT JOIN accounts_tokenepoch AS epoch ON epoch.user_id = u.id
    WHERE u.id = $1
"""
# PostgreSQL spends most of that query's time planning it (about 0.3 of 0.45 ms where it was measured),
# so each database connection prepares it once and then only executes it. Prepared statements live as
# long as the connection: this needs direct or session-pooled connections, not PgBouncer's
# transaction pooling.
PREPARE_TOKEN_USER_SQL = f"PREPARE accounts_token_user (bigint, text[], text) AS {TOKEN_USER_SQL}"
EXECUTE_TOKEN_USER_SQL = "EXECUTE accounts_token_user (%s, %s, %s)"  # noqa: S105 (SQL, not a secret)


def load_token_user(user_id, jti):
    """(user, token epoch, whether token ``jti`` was logged out) for the user with primary key
    ``user_id``, or None. The user's role is cached on it for ``role_of``. One query."""
    with connection.cursor() as cursor:
        if getattr(connection, "accounts_token_user_prepared_on", None) is not connection.connection:
            cursor.execute(PREPARE_TOKEN_USER_SQL)
            # Django replaces the DB-API connection when it reconnects; a new one needs preparing again.
            connection.accounts_token_user_prepared_on = connection.connection
        cursor.execute(EXECUTE_TOKEN_USER_SQL, [user_id, ROLE_NAMES, jti])
        row = cursor.fetchone()
    if row is None:
        return None
    *user_values, epoch, logged_out, role_groups = row
    user = get_user_model().from_db(connection.alias, USER_COLUMNS, user_values)
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
