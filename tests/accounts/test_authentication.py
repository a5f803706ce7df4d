"""PlatformJWTAuthentication itself: what one authenticated request costs in queries."""

import pytest
from django.contrib.auth.models import User
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import USER_COLUMNS, PlatformJWTAuthentication
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


def test_it_reads_every_column_of_the_user_table():
    # Guards the hand-written query against a Django upgrade that adds a column to auth_user.
    assert [field.column for field in User._meta.concrete_fields] == USER_COLUMNS
