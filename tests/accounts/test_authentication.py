"""PlatformJWTAuthentication itself: what one authenticated request costs in queries."""

import pytest
from django.db import connection
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import PlatformJWTAuthentication
from accounts.roles import Role, role_of
from tests.accounts.auth_calls import bearer, login

pytestmark = pytest.mark.django_db


def test_it_authenticates_and_knows_the_role_in_one_query(operator, django_assert_num_queries):
    request = Request(
        APIRequestFactory().get("/api/v1/wells/", **bearer(login("omar_operator").json()["access_token"]))
    )
    with django_assert_num_queries(1):
        user, _ = PlatformJWTAuthentication().authenticate(request)
        assert role_of(user) is Role.OPERATOR
    assert user == operator and user.email == operator.email


def test_it_loads_every_field_of_the_user(operator):
    request = Request(APIRequestFactory().get("/", **bearer(login("omar_operator").json()["access_token"])))
    user, _ = PlatformJWTAuthentication().authenticate(request)
    assert user.get_deferred_fields() == set()
    assert (user.username, user.email, user.date_joined) == (operator.username, operator.email, operator.date_joined)


def test_the_connection_plans_the_token_query_once(operator):
    request = Request(APIRequestFactory().get("/", **bearer(login("omar_operator").json()["access_token"])))
    for _ in range(3):
        PlatformJWTAuthentication().authenticate(request)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%accounts_tokenepoch%"])
        assert cursor.fetchone() == (1,)
