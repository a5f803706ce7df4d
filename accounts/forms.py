"""The Django admin's sign-in form, under the same brute-force limits as the API's sign-in."""

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts import audit, throttling


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Refuses sign-in while the username or the caller's IP is locked (see ``accounts.throttling``).

    The admin is where an engineer can delete wells, so it is guarded like the API: refused
    sign-ins count towards the same per-username and per-IP windows, and while a window is locked
    the password is not checked at all.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Try again in %(minutes)s minute(s).",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = audit.client_ip(self.request) or "unknown"
        retry_after = throttling.seconds_until_allowed(username, ip)
        if retry_after:
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": math.ceil(retry_after / 60)}
            )
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                throttling.record_failure(username, ip)
            raise
        throttling.record_success(username, ip)
        return cleaned
