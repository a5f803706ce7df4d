"""How the dashboards write figures: numbers with units or a dash, ages, score bands."""

from django import template

from alarms.models import alarm_type_label

register = template.Library()

# Score bands (0–100): good from 80, fair from 60, poor below. The band is written out next to the
# colour, so colour is never the only cue.
GOOD_FROM, FAIR_FROM = 80, 60


@register.filter
def band(score):
    """'good', 'fair', 'poor', or 'none' for a missing score."""
    if score is None:
        return "none"
    if score >= GOOD_FROM:
        return "good"
    return "fair" if score >= FAIR_FROM else "poor"


@register.filter
def figure(value, decimals=0):
    """``1,234`` / ``47.9``; an em dash for a missing value."""
    if value is None:
        return "—"
    return f"{value:,.{int(decimals)}f}"


@register.filter
def age(seconds):
    """How long ago, shortly: 40 s, 12 min, 5 h, 3 d; a dash when unknown."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


@register.filter
def alarm_type(value):
    return alarm_type_label(value)


@register.filter
def percent(value):
    return "—" if value is None else f"{value * 100:.0f} %"


@register.filter
def signed(value):
    """+3 / −7 / 0, rounded to a whole number."""
    if value is None:
        return "—"
    rounded = round(value)
    if rounded > 0:
        return f"+{rounded}"
    return f"−{-rounded}" if rounded < 0 else "0"
