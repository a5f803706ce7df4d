"""Reading deploy-time settings from the environment, failing fast with the variable's name.

Every setting the platform reads from the environment goes through these functions, so a bad or
missing value stops start-up with ``ImproperlyConfigured`` naming the variable instead of surfacing
later as a confusing runtime error.
"""

import os
import zoneinfo

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default=None, *, required=False):
    """The variable's value; ``default`` when unset. ``required`` refuses an unset or empty value."""
    value = os.environ.get(name)
    if value is None or (required and not value.strip()):
        if required:
            raise ImproperlyConfigured(f"{name} must be set in the environment (see .env.example).")
        return default
    return value


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {value!r}.")


def env_int(name, default, *, minimum=None):
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
    return number


def env_list(name, default):
    """A comma-separated list; blanks are dropped."""
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name, default, choices):
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def env_timezone(name, default):
    value = os.environ.get(name, default).strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone such as Asia/Riyadh, got {value!r}.") from None
    return value


def env_url(name, default, schemes):
    """A URL whose scheme is one of ``schemes``."""
    value = os.environ.get(name, default).strip()
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {value!r}."
        )
    return value
