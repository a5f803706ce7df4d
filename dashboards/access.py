"""Who may do what on the dashboards: the roles of ``accounts.permissions``, named once.

    READ            viewer     every page, its live fragments and its chart data
    ACT_ON_ALARMS   operator   acknowledge, shelve and unshelve alarms (the API's POST /api/v1/alarms/{id}/…)

Every dashboards view is wrapped in ``requires(<one of these>)``: without a session it sends the browser
to the sign-in page; a user whose role falls short gets a 403 page, whatever the page they came from
showed. Templates decide which buttons to show from ``abilities(user)``, computed from the same names,
so a page never offers what the server would refuse.
"""

import functools

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from accounts.roles import Role, role_of

READ = Role.VIEWER
ACT_ON_ALARMS = Role.OPERATOR


def has_role(user, needed):
    """Whether ``user`` holds ``needed`` or a higher role. One query the first time per request."""
    role = role_of(user)
    return role is not None and role >= needed


def abilities(user):
    """What the templates may offer this user, by the same rule ``requires`` enforces."""
    return {"act_on_alarms": has_role(user, ACT_ON_ALARMS)}


def requires(needed):
    """Decorates a view so that only signed-in users holding role ``needed`` (or higher) reach it."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, needed):
                return render(
                    request,
                    "dashboards/forbidden.html",
                    {"needed": needed.group_name, "role": getattr(role_of(request.user), "group_name", None)},
                    status=403,
                )
            return view(request, *args, **kwargs)

        guarded.required_role = needed
        return guarded

    return decorate
