"""What validating a Bearer token costs per API request, against the real PostgreSQL.

Run by `make bench` (not by `make test`; nothing here is a timed assertion). Prints microseconds per
call for:
- a DRF request with no authentication at all (the baseline),
- the same request authenticated by PlatformJWTAuthentication (signature, expiry, then user, token
  epoch, logout and role in one PostgreSQL query),
- PlatformJWTAuthentication.authenticate() alone, and simplejwt's stock JWTAuthentication for comparison,
- that query alone.
"""

import statistics
import time

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import PlatformJWTAuthentication, load_token_user
from accounts.permissions import IsSignedIn
from tests.factories import UserFactory

ROUNDS = 15
CALLS_PER_ROUND = 300


class NoAuthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class BearerView(NoAuthView):
    authentication_classes = [PlatformJWTAuthentication]
    permission_classes = [IsSignedIn]


def microseconds_per_call(candidates):
    """{name: µs per call} for callables {name: call}: the median over ROUNDS of the mean of
    CALLS_PER_ROUND calls. The candidates take turns within each round, so that a machine that slows
    down for a while slows all of them alike."""
    for call in candidates.values():
        for _ in range(50):  # warm connections, caches and the prepared statement
            call()
    rounds = {name: [] for name in candidates}
    for _ in range(ROUNDS):
        for name, call in candidates.items():
            started = time.perf_counter_ns()
            for _ in range(CALLS_PER_ROUND):
                call()
            rounds[name].append((time.perf_counter_ns() - started) / CALLS_PER_ROUND / 1000)
    return {name: statistics.median(times) for name, times in rounds.items()}


@pytest.mark.django_db
def test_it_measures_what_token_validation_costs_per_request(sign_in):
    user = UserFactory(username="bench_viewer", role="viewer")
    access_token = sign_in(user)["access_token"]
    factory = APIRequestFactory()
    header = {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}

    no_auth_view, bearer_view = NoAuthView.as_view(), BearerView.as_view()
    assert no_auth_view(factory.get("/bench")).status_code == 200
    assert bearer_view(factory.get("/bench", **header)).status_code == 200
    authenticated_request = Request(factory.get("/bench", **header))
    platform, stock = PlatformJWTAuthentication(), JWTAuthentication()
    assert platform.authenticate(authenticated_request)[0] == user
    validated = AccessToken(access_token)

    figures = microseconds_per_call(
        {
            "request, no authentication (baseline)": lambda: no_auth_view(factory.get("/bench")),
            "request, Bearer token": lambda: bearer_view(factory.get("/bench", **header)),
            "PlatformJWTAuthentication.authenticate()": lambda: platform.authenticate(authenticated_request),
            "simplejwt JWTAuthentication.authenticate()": lambda: stock.authenticate(authenticated_request),
            "  of which: user, epoch, logout and role query": lambda: load_token_user(user.pk, validated["jti"]),
        }
    )
    added = figures["request, Bearer token"] - figures["request, no authentication (baseline)"]
    print(f"\nToken validation, µs per call (median of {ROUNDS} rounds x {CALLS_PER_ROUND} calls):")
    for name, microseconds in figures.items():
        print(f"  {name:<45} {microseconds:8.1f}")
    print(f"  {'=> added by token validation per request':<45} {added:8.1f}")
