"""Rate limits of the API and the dashboards' action forms: requests per minute per signed-in user and per
client IP, in three scopes sized for who sends them (``settings.API_RATE_LIMITS``, README "Reliability").

- ``read``: GET, HEAD and OPTIONS — integrators pulling analytics and exports.
- ``write``: every other method — creating wells, alarm actions, user management.
- ``ingest``: telemetry ingest (views with ``rate_limit_scope = "ingest"``), sized so one device token can
  carry a fleet of devices each posting a batch every few seconds.

Counts are kept in fixed one-minute windows in the default cache (Redis), so every web process shares
them. A caller over a limit gets 429 with ``Retry-After`` (seconds to the end of the window). Without
Redis the counts go to this process's memory, as the sign-in throttle's do (``accounts.throttling``), so
an outage neither blocks the API nor lifts the limits.
"""

import math
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts import throttling
from accounts.audit import client_ip

WINDOW_SECONDS = 60
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def scope_of(request, view=None):
    """``ingest`` for the views that declare it, else ``read`` or ``write`` by the request's method."""
    scope = getattr(view, "rate_limit_scope", None)
    if scope:
        return scope
    return "read" if request.method in SAFE_METHODS else "write"


class RateLimit(BaseThrottle):
    """Counts the request against one limit of its scope; ``per`` says whose: ``"user"`` or ``"ip"``."""

    per = None
    # The wall clock windows are cut on; tests replace it to move time without sleeping.
    timer = staticmethod(time.time)

    def _caller(self, request):
        if self.per == "user":
            user = getattr(request, "user", None)
            return str(user.pk) if user is not None and user.is_authenticated else None
        return client_ip(request) or "unknown"

    def allow_request(self, request, view):
        caller = self._caller(request)
        if caller is None:  # anonymous callers are limited by their IP alone
            return True
        scope = scope_of(request, view)
        limit = settings.API_RATE_LIMITS[scope][self.per]
        now = self.timer()
        window = int(now // WINDOW_SECONDS)
        self.seconds_left = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        key = f"ratelimit:{scope}:{self.per}:{caller}:{window}"
        throttling.cache_or_process_memory("add", key, 0, WINDOW_SECONDS + 5)
        try:
            count = throttling.cache_or_process_memory("incr", key)
        except ValueError:  # expired between add and incr, or counted in memory after Redis failed
            throttling.cache_or_process_memory("set", key, 1, WINDOW_SECONDS + 5)
            count = 1
        return count <= limit

    def wait(self):
        return max(1, math.ceil(self.seconds_left))


class PerUserRateLimit(RateLimit):
    per = "user"


class PerIpRateLimit(RateLimit):
    per = "ip"


def over_limit(request, view=None):
    """For views outside DRF (the dashboards' forms): seconds to wait when ``request`` is over a limit,
    else None. Counts the request like the API's throttles do."""
    for limit in (PerUserRateLimit(), PerIpRateLimit()):
        if not limit.allow_request(request, view):
            return limit.wait()
    return None
