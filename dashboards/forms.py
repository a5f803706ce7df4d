"""The dashboards' forms: sign-in, the fleet's and the alarm list's filters, shelving an alarm."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import audit
from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.models import AuthEventKind
from accounts.roles import role_of
from alarms.models import COMMENT_MAX_LENGTH, AlarmState
from analytics.models import DiagnosticType, Severity
from config.text import BIDI_OVERRIDES
from dashboards import charts, rankings


def no_direction_override(text):
    """Comments and reasons end up in the alarm's history: no text that displays as something else."""
    if any(mark in text for mark in BIDI_OVERRIDES):
        raise ValidationError("Must not hold a text direction override (U+202D, U+202E).")


class SignInForm(ThrottledAdminAuthenticationForm):
    """The Django admin's sign-in form — the same brute-force windows and locks, the same audit trail
    (Django's sign-in signals) — letting in any user with a platform role rather than staff only.

    A right password on an account without a role is refused with the same words as a wrong one, counted
    like one (as the admin does for non-staff accounts) and audited as refused.
    """

    error_messages = {
        **ThrottledAdminAuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct %(username)s and password of an account with a platform role. "
        "Both fields may be case-sensitive.",
    }

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if role_of(user) is None:
            audit.record(
                AuthEventKind.LOGIN_FAILED,
                user=user,
                request=self.request,
                details={"reason": "no_role", "via": "dashboards"},
            )
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def _choices_or_default(form, defaults):
    """The form's valid values, with ``defaults`` for fields missing or invalid (a stale bookmark, a typo)."""
    form.is_valid()
    values = dict(defaults)
    for name in defaults:
        value = form.cleaned_data.get(name) if name not in form.errors else None
        if value not in (None, ""):
            values[name] = value
    return values


class FleetFilterForm(forms.Form):
    """Which wells the fleet page lists and in what order (GET parameters; bad values fall back)."""

    STATUS_CHOICES = [
        ("", "Any status"),
        ("producing", "Producing"),
        ("no_flow", "No flow (running)"),
        ("down", "Down"),
        ("stale", "Stale"),
        ("no_data", "No data"),
    ]
    ALARM_CHOICES = [
        ("", "Any alarm state"),
        ("alarming", "Alarming"),
        ("critical", "Critical alarm"),
        ("warning", "Warning alarm"),
        ("none", "No open alarm"),
    ]
    SORT_CHOICES = [
        ("attention", "Needs attention first"),
        ("well", "Well"),
        ("field", "Field"),
        ("status", "Status"),
        ("flow", "Flow"),
        ("current", "Motor current"),
        ("temp", "Motor temperature"),
        ("health", "Health"),
        ("efficiency", "Efficiency"),
        ("alarms", "Open alarms"),
        ("age", "Last reading"),
    ]
    DEFAULTS = {"field": "", "status": "", "alarms": "", "sort": "attention", "dir": "asc", "page": 1}

    field = forms.CharField(required=False, max_length=120)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    alarms = forms.ChoiceField(required=False, choices=ALARM_CHOICES, label="Alarms")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)
    dir = forms.ChoiceField(required=False, choices=[("asc", "Ascending"), ("desc", "Descending")])
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def values(self):
        return _choices_or_default(self, self.DEFAULTS)


class AlarmFilterForm(forms.Form):
    """Which alarms the alarms page lists (GET parameters; bad values fall back)."""

    NEEDING_ACTION = "needing_action"
    OPEN = "open"
    ALL = "all"
    STATE_CHOICES = [
        (NEEDING_ACTION, "Needing action (unacknowledged, not shelved)"),
        (OPEN, "Open (any state but closed)"),
        *AlarmState.choices,
        (ALL, "All"),
    ]
    DAYS_CHOICES = [("1", "Last 24 hours"), ("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]
    DEFAULTS = {"state": OPEN, "severity": "", "well": "", "type": "", "days": "30", "page": 1}

    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)
    severity = forms.ChoiceField(
        required=False, choices=[("", "Any severity"), (Severity.CRITICAL, "Critical"), (Severity.WARNING, "Warning")]
    )
    well = forms.CharField(required=False, max_length=24, label="Well ID")
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *DiagnosticType.choices], label="Type")
    days = forms.ChoiceField(required=False, choices=DAYS_CHOICES, label="Raised")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def values(self):
        return _choices_or_default(self, self.DEFAULTS)


class RankingForm(forms.Form):
    """Which score the rankings page ranks by, best or worst first (GET parameters; bad values fall back)."""

    DEFAULTS = {"score": "efficiency", "order": "desc"}

    score = forms.ChoiceField(required=False, choices=[(name, name) for name in rankings.SCORES])
    order = forms.ChoiceField(required=False, choices=[("asc", "Worst first"), ("desc", "Best first")])

    def values(self):
        return _choices_or_default(self, self.DEFAULTS)


class ChartRangeForm(forms.Form):
    """The time range a well page charts (GET parameter; a bad value falls back)."""

    DEFAULTS = {"range": charts.DEFAULT_RANGE}

    range = forms.ChoiceField(required=False, choices=[(key, key) for key in charts.RANGES])

    def values(self):
        return _choices_or_default(self, self.DEFAULTS)


def shelve_hour_choices():
    """1 h up to ALARM_SHELVE_MAX_HOURS, the longest a shelve may last."""
    limit = settings.ALARM_SHELVE_MAX_HOURS
    hours = sorted({h for h in (1, 2, 4, 8, 12, 24, 48, 72) if h <= limit} | {limit})
    return [(h, f"{h} hour{'s' if h != 1 else ''}") for h in hours]


class ShelveForm(forms.Form):
    """Shelving an alarm: why, and for how long (the alarms app caps it at ALARM_SHELVE_MAX_HOURS)."""

    reason = forms.CharField(max_length=COMMENT_MAX_LENGTH, strip=True, validators=[no_direction_override])
    hours = forms.TypedChoiceField(coerce=int, choices=shelve_hour_choices)


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=COMMENT_MAX_LENGTH, strip=True, validators=[no_direction_override]
    )
