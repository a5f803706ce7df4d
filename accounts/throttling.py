"""Brute-force protection for ``POST /api/v1/auth/login``: refused sign-ins are counted, and too many
of them lock further attempts for a while.

The policy (numbers are settings, defaults in brackets):

- Refused sign-ins (wrong password, unknown user, inactive account) are counted per username
  (case-insensitive), per client IP, and per (username, IP) pair, each in a fixed window of
  ``LOGIN_FAILURE_WINDOW_SECONDS`` [900 s] that starts at the first refusal.
- A username with ``LOGIN_MAX_FAILURES_PER_USERNAME`` [5] refusals in its window is locked for the
  rest of the window; an IP with ``LOGIN_MAX_FAILURES_PER_IP`` [20] refusals likewise, for every
  username (password spraying). A locked attempt gets 429 with ``Retry-After`` (seconds left) and the
  password is not even checked, so guessing stops and the attempt neither counts nor extends the lock.
- No lock outlives its window; nothing is permanent. A successful sign-in clears the username's
  count; an administrator changing the password or re-activating the account clears it too.
- So an attacker can't lock a real user out by failing on purpose: a client IP the user signed in
  from successfully within ``REFRESH_TOKEN_LIFETIME`` [7 days] is judged by the (username, IP) count
  only, not by the username-wide count that the attacker drives up from elsewhere. A known IP still
  gets only 5 guesses per window, and the per-IP limit still applies.

Counts live in the default cache (Redis), so every web replica sees the same numbers; if Redis is
flushed the counts start again.

**Without Redis** (refused, timed out, frozen) sign-in keeps working and stays throttled: the counts
go to this process's own memory instead, and Redis is not asked again for ``REDIS_RETRY_AFTER_S``, so
a hung Redis costs one short timeout per process, not one per request. Each web process then counts
on its own, so an attacker gets at most (number of web processes) × the limits per window: brute
force stays bounded, and nobody is locked out by an outage. Counts made in memory are not carried
back into Redis when it returns.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The wall clock that windows are measured on; tests replace it to move time without sleeping.
clock = time.time

# After Redis fails to answer, how long to count in process memory before asking it again.
REDIS_RETRY_AFTER_S = 10.0
_REDIS_ERRORS = (ConnectionInterrupted, RedisError, OSError)
_in_process = LocMemCache("login-throttle", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_redis_unavailable_until = 0.0


def _store(operation, *args, **kwargs):
    """Runs one cache ``operation`` on Redis, or on this process's memory while Redis is unavailable."""
    global _redis_unavailable_until
    if time.monotonic() >= _redis_unavailable_until:
        try:
            return getattr(cache, operation)(*args, **kwargs)
        except _REDIS_ERRORS as error:
            _redis_unavailable_until = time.monotonic() + REDIS_RETRY_AFTER_S
            logger.warning(
                "Sign-in throttle: Redis is unavailable (%s); counting in this process for %.0f s",
                error,
                REDIS_RETRY_AFTER_S,
            )
    return getattr(_in_process, operation)(*args, **kwargs)


# The same fallback serves the API's rate limits (accounts.rate_limits).
cache_or_process_memory = _store


def _digest(text):
    # Usernames are arbitrary user input: hash them into fixed-length, key-safe cache keys.
    return hashlib.sha256(text.casefold().encode()).hexdigest()[:32]


def _username_key(username):
    return f"auth:login-failures:user:{_digest(username)}"


def _pair_key(username, ip):
    return f"auth:login-failures:pair:{_digest(username)}:{ip}"


def _ip_key(ip):
    return f"auth:login-failures:ip:{ip}"


def _known_ip_key(username, ip):
    return f"auth:login-known-ip:{_digest(username)}:{ip}"


def _deciding_counts(username, ip):
    """The (key, limit) pairs that decide whether an attempt for ``username`` from ``ip`` may go ahead."""
    from_known_ip = _store("get", _known_ip_key(username, ip)) is not None
    username_key = _pair_key(username, ip) if from_known_ip else _username_key(username)
    return [
        (username_key, settings.LOGIN_MAX_FAILURES_PER_USERNAME),
        (_ip_key(ip), settings.LOGIN_MAX_FAILURES_PER_IP),
    ]


def seconds_until_allowed(username, ip):
    """0 when a sign-in attempt for ``username`` from ``ip`` may go ahead, else the seconds to wait (≥ 1)."""
    deciding = _deciding_counts(username, ip)
    stored = _store("get_many", [f"{key}:{part}" for key, _ in deciding for part in ("count", "ends")])
    now = clock()
    wait = 0.0
    for key, limit in deciding:
        ends = stored.get(f"{key}:ends")
        if stored.get(f"{key}:count", 0) >= limit and ends is not None:
            wait = max(wait, ends - now)
    return max(1, math.ceil(wait)) if wait > 0 else 0


def first_attempt_during_lock(username, ip, retry_after):
    """True for the first locked attempt of ``username`` from ``ip`` in this lock, False for later ones."""
    return _store("add", f"auth:login-lock-seen:{_digest(username)}:{ip}", 1, timeout=retry_after)


def record_failure(username, ip):
    """Counts one refused sign-in against the username, the (username, IP) pair and the IP."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    now = clock()
    for key in (_username_key(username), _pair_key(username, ip), _ip_key(ip)):
        ends = _store("get", f"{key}:ends")
        if ends is not None and ends <= now:  # a window over by the clock that the cache has not expired yet
            _store("delete_many", [f"{key}:ends", f"{key}:count"])
        # add() writes only when the key is absent: the first refusal opens the window.
        _store("add", f"{key}:ends", now + window, timeout=window)
        _store("add", f"{key}:count", 0, timeout=window)
        try:
            _store("incr", f"{key}:count")
        except ValueError:  # the window closed between add() and incr()
            _store("set", f"{key}:count", 1, timeout=window)


def record_success(username, ip):
    """Clears the username's refusals and remembers ``ip`` as one this user signs in from."""
    forget_failures(username, ip)
    lifetime = int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())
    _store("set", _known_ip_key(username, ip), 1, timeout=lifetime)


def forget_failures(username, ip=None):
    """Unlocks ``username`` (and its pair with ``ip``). The IP's own count stays: it may be attacking others."""
    keys = [_username_key(username)] + ([_pair_key(username, ip)] if ip is not None else [])
    _store("delete_many", [f"{key}:{part}" for key in keys for part in ("count", "ends")])
