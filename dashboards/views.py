"""The dashboards' pages. Each view names the role it needs (``dashboards.access``), reads through the
modules named for what they read, and renders; a page's live parts are the same view asked for
``?fragment=live``, which renders only them (``static/dashboards/js/live.js`` polls it).
"""

import datetime
import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import rate_limits
from accounts.roles import role_of
from alarms import lifecycle
from alarms.models import Alarm, AlarmTransitionRefused
from config.params import not_a_choice
from dashboards import alarm_board, charts, fleet, fleet_map, rankings
from dashboards import well as well_reads
from dashboards.access import ACT_ON_ALARMS, READ, abilities, requires
from dashboards.forms import (
    AlarmFilterForm,
    ChartRangeForm,
    CommentForm,
    FleetFilterForm,
    RankingForm,
    ShelveForm,
    SignInForm,
)
from telemetry.metrics_catalogue import unit_of
from telemetry.query import utc_text
from wells.models import Well

FLEET_PAGE_SIZE = 100
ALARMS_PAGE_SIZE = 50
RANKING_PAGE_SIZE = 50
LIVE = "live"


def _query(params, **changes):
    """``params`` (a QueryDict or dict) with ``changes`` applied (None removes), as ``?a=1&b=2`` (``?`` if empty)."""
    merged = {key: params.get(key) for key in params}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    merged = {key: value for key, value in merged.items() if value not in (None, "")}
    return f"?{urlencode(merged)}" if merged else "?"


def _page(request, context, template, live_template):
    """Renders the page, or only its live part when asked for ``?fragment=live``."""
    context = {
        **context,
        "can": abilities(request.user),
        "role_name": role_of(request.user).group_name,
        "live_seconds": settings.DASHBOARD_LIVE_SECONDS,
        "display_timezone": settings.ANALYTICS_TIMEZONE,
        "live_src": request.path + _query(request.GET, fragment=LIVE),
        "here": request.path + _query(request.GET, fragment=None).rstrip("?"),
    }
    with timezone.override(settings.ANALYTICS_TIMEZONE):
        if request.GET.get("fragment") == LIVE:
            response = render(request, live_template, context)
            response["Cache-Control"] = "no-store"
            return response
        return render(request, template, context)


def _pagination(paginator, number, params):
    page = paginator.get_page(number)
    return page, {
        "previous": _query(params, page=page.previous_page_number(), fragment=None) if page.has_previous() else None,
        "next": _query(params, page=page.next_page_number(), fragment=None) if page.has_next() else None,
    }


# --- Sign-in --------------------------------------------------------------------------------------


class SignInView(auth_views.LoginView):
    """/login: the admin's throttled, audited sign-in form, open to every platform role."""

    template_name = "dashboards/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """/logout (POST only, with the CSRF token): ends the session, back to the sign-in page."""

    next_page = "dashboards:login"


# --- Fleet ----------------------------------------------------------------------------------------

FLEET_COLUMNS = [
    ("well", "Well"),
    ("field", "Field"),
    ("status", "Status"),
    ("flow", f"Flow {unit_of('flow_rate')}"),
    ("current", f"Current {unit_of('motor_current')}"),
    ("temp", f"Motor {unit_of('motor_temp')}"),
    ("health", "Health"),
    ("efficiency", "Efficiency"),
    ("alarms", "Open alarms"),
    ("age", "Last reading"),
]


@require_GET
@requires(READ)
def fleet_overview(request):
    """/: every active well as a row, the fleet's totals and a map of the wells."""
    now = timezone.now()
    lifecycle.unshelve_expired(now=now)
    values = FleetFilterForm(request.GET).values()
    rows = fleet.fleet_rows(now)
    totals = fleet.fleet_totals(rows)
    shown = fleet.sort_rows(
        fleet.filter_rows(rows, field=values["field"], status=values["status"], alarms=values["alarms"]),
        values["sort"],
        values["dir"],
    )
    page, pages = _pagination(Paginator(shown, FLEET_PAGE_SIZE), values["page"], request.GET)
    headers = []
    for key, label in FLEET_COLUMNS:
        active = values["sort"] == key
        direction = "desc" if active and values["dir"] == "asc" else "asc"
        headers.append(
            {
                "label": label,
                "url": _query(request.GET, sort=key, dir=direction, page=None, fragment=None),
                "aria_sort": ("ascending" if values["dir"] == "asc" else "descending") if active else None,
                "numeric": key in fleet.SORT_VALUES,
                "narrow": key != "field",  # the field is in the filter and usually in the well's name
            }
        )
    context = {
        "rows": page.object_list,
        "page": page,
        "pages": pages,
        "shown": len(shown),
        "totals": totals,
        "map": fleet_map.fleet_map(shown),
        "filters": values,
        "form": FleetFilterForm(initial=values),
        "fields": sorted({row.field for row in rows}),
        "headers": headers,
        "stale_minutes": settings.DASHBOARD_STALE_AFTER_MINUTES,
        # "/wells/" + well ID + "/": one reverse() for the page rather than one per row.
        "well_url": reverse("dashboards:well", args=["ID"]).removesuffix("ID/"),
        "nav": "fleet",
        "now": now,
    }
    return _page(request, context, "dashboards/fleet.html", "dashboards/_fleet_live.html")


# --- Well -----------------------------------------------------------------------------------------


@require_GET
@requires(READ)
def well_detail(request, well_id):
    """/wells/<well_id>/: one well's trends, operating point, diagnostics and alarms."""
    well = get_object_or_404(Well, well_id=well_id)
    now = timezone.now()
    lifecycle.unshelve_expired(now=now)
    range_key = ChartRangeForm(request.GET).values()["range"]
    window = charts.RANGES[range_key]
    latest = well_reads.latest_reading(well, now)
    open_alarms, recent_alarms = well_reads.well_alarms(well, now)
    export = {
        "well_id": well.well_id,
        "start": utc_text((now - window.span).replace(microsecond=0)),
        "end": utc_text(now.replace(microsecond=0) + datetime.timedelta(seconds=1)),
    }
    context = {
        "well": well,
        "latest": latest,
        "metrics": charts.latest_values(latest.values),
        "charts": [
            {"key": c.key, "title": c.title, "unit": c.unit, "latest": charts.latest_summary(c, latest.values)}
            for c in charts.CHARTS
        ],
        "last_hour": well_reads.last_hour_performance(well, now),
        "operating_point": well_reads.operating_point(well, latest.values["flow_rate"]),
        "open_alarms": open_alarms,
        "recent_alarms": recent_alarms,
        "timeline": well_reads.diagnostics_timeline(well, now),
        "ranges": [
            {"key": r.key, "label": r.label, "url": _query({}, range=r.key), "current": r.key == range_key}
            for r in charts.RANGES.values()
        ],
        "range": window,
        "chart_setup": {
            "src": reverse("dashboards:well-chart-data", args=[well.well_id]) + _query({}, range=range_key),
            "refreshSeconds": window.refresh_seconds,
            "timezone": well.timezone,
            "source": window.source,
            "charts": charts.chart_definitions(well),
        },
        "export_url": reverse("telemetry-export") + _query(export),
        "stale_minutes": settings.DASHBOARD_STALE_AFTER_MINUTES,
        "shelve_form": ShelveForm(),
        "nav": "fleet",
        "now": now,
    }
    return _page(request, context, "dashboards/well.html", "dashboards/_well_live.html")


@require_GET
@requires(READ)
def well_chart_data(request, well_id):
    """/wells/<well_id>/charts.json?range=24h&points=900: the charts' series, at most ``points`` buckets."""
    well = get_object_or_404(Well.objects.only("pk", "well_id"), well_id=well_id)
    range_key = request.GET.get("range", charts.DEFAULT_RANGE)
    if range_key not in charts.RANGES:
        return JsonResponse({"range": [not_a_choice(f'"{range_key}"', charts.RANGES)]}, status=400)
    data = charts.chart_data(well, range_key, charts.clamp_points(request.GET.get("points")), timezone.now())
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


# --- Rankings -------------------------------------------------------------------------------------


@require_GET
@requires(READ)
def ranking(request):
    """/rankings/: the fleet ranked by efficiency or health, each well with its 30-day trend."""
    now = timezone.now()
    values = RankingForm(request.GET).values()
    score, order = values["score"], values["order"]
    wells = rankings.ranked_wells(score, order, now)
    page, pages = _pagination(Paginator(wells, RANKING_PAGE_SIZE), request.GET.get("page"), request.GET)
    rankings.attach_trends(page.object_list, score, now)
    context = {
        "wells": page.object_list,
        "page": page,
        "pages": pages,
        "score": score,
        "order": order,
        "tabs": [
            {
                "label": f"{name.title()}, {words}",
                "url": _query({}, score=name, order=o),
                "current": (name, o) == (score, order),
            }
            for name in rankings.SCORES
            for o, words in (("desc", "best first"), ("asc", "worst first"))
        ],
        "nav": "rankings",
        "now": now,
    }
    return _page(request, context, "dashboards/rankings.html", "dashboards/_rankings_live.html")


# --- Alarms ---------------------------------------------------------------------------------------


@require_GET
@requires(READ)
def alarm_list(request):
    """/alarms/: alarms across the fleet, filtered, with acknowledge and shelve in place, and the KPIs."""
    now = timezone.now()
    lifecycle.unshelve_expired(now=now)
    values = AlarmFilterForm(request.GET).values()
    page, pages = _pagination(
        Paginator(alarm_board.filtered_alarms(values, now), ALARMS_PAGE_SIZE), values["page"], request.GET
    )
    context = {
        "alarms": page.object_list,
        "page": page,
        "pages": pages,
        "form": AlarmFilterForm(initial=values),
        "kpis": alarm_board.kpi_panel(now),
        "kpi_days": alarm_board.KPI_DAYS,
        "shelve_form": ShelveForm(),
        "nav": "alarms",
        "now": now,
    }
    return _page(request, context, "dashboards/alarms.html", "dashboards/_alarms_live.html")


def _back(request):
    """Where to return after acting on an alarm: the page the form was on, if it is one of ours."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("dashboards:alarms")


def _transition(request, alarm_pk, action, done):
    """Runs ``action(alarm)`` and says how it went; a refusal changes nothing and is shown as an error."""
    alarm = get_object_or_404(Alarm.objects.select_related("well"), pk=alarm_pk)
    try:
        action(alarm)
    except AlarmTransitionRefused as refused:
        messages.error(request, f"{alarm.alarm_type_label} on {alarm.well.well_id}: {refused.message}")
    else:
        messages.success(request, f"{alarm.alarm_type_label} on {alarm.well.well_id} {done}.")
    return redirect(_back(request))


def _refused(request, message, status, retry_after=None):
    """A page saying the action was not done and why, with a link back; nothing was changed."""
    response = render(request, "dashboards/refused.html", {"message": message, "back": _back(request)}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _invalid_form(request, pk, form, not_done):
    alarm = get_object_or_404(Alarm.objects.select_related("well"), pk=pk)
    problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return _refused(request, f"{alarm.alarm_type_label} on {alarm.well.well_id} was not {not_done} — {problems}", 400)


FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def rate_limited(view):
    """The API's per-user and per-IP write limits on a dashboard form (``accounts.rate_limits``): past
    them the page says so, 429 with Retry-After, and nothing is done. A body that is not a form (JSON, say)
    is a 415 rather than read as an empty form, which would act without the fields it meant to send."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.content_type not in FORM_CONTENT_TYPES:
            return _refused(request, "The action must be sent from its form.", 415)
        if (wait := rate_limits.over_limit(request)) is not None:
            return _refused(request, f"Too many actions in a minute; try again in {wait} s.", 429, retry_after=wait)
        return view(request, *args, **kwargs)

    return limited


@require_POST
@requires(ACT_ON_ALARMS)
@rate_limited
def acknowledge_alarm(request, pk):
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _invalid_form(request, pk, form, "acknowledged")
    comment = form.cleaned_data["comment"]
    return _transition(
        request, pk, lambda alarm: alarm.acknowledge(request.user, now=timezone.now(), comment=comment), "acknowledged"
    )


@require_POST
@requires(ACT_ON_ALARMS)
@rate_limited
def shelve_alarm(request, pk):
    form = ShelveForm(request.POST)
    if not form.is_valid():
        return _invalid_form(request, pk, form, "shelved")
    hours, reason = form.cleaned_data["hours"], form.cleaned_data["reason"]

    def shelve(alarm):
        now = timezone.now()
        alarm.shelve(request.user, until=now + datetime.timedelta(hours=hours), reason=reason, now=now)

    return _transition(request, pk, shelve, f"shelved for {hours} h")


@require_POST
@requires(ACT_ON_ALARMS)
@rate_limited
def unshelve_alarm(request, pk):
    return _transition(request, pk, lambda alarm: alarm.unshelve(request.user, now=timezone.now()), "unshelved")
