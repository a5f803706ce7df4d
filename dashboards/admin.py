"""The Django admin as field engineers use it: the domain first on the index, each well's pulse on the
well list, and its last 24 hours on its page.

- The index and the side bar list Wells, Alarms, Analytics (diagnostics) and Telemetry first, then the
  other apps, then users and groups (the admin role's), and the plumbing (periodic tasks, the token
  blacklist) last: ``ordered_app_list``, installed on the admin site by ``DashboardsConfig.ready()``.
- The well list shows how long ago each well last reported, its health score over the last complete
  hour and its open alarms; the three are annotations, so the page costs the same few queries whether
  it lists two wells or a hundred, and each is sortable.
- The well's page draws the last 24 h of motor current (the ammeter chart) and flow with the dashboards'
  own chart script (``static/dashboards/js/charts.js``, reading ``/wells/<well_id>/charts.json``), and
  links to the well's dashboard page and its readings. No inline script: the chart's setup is a
  ``<script type="application/json">`` block, so the page would work under ``script-src 'self'``.

Like telemetry and alarms before it, this module re-registers the Well admin that the apps before it
registered (the last registered one, with its readings page and open alarms) as a subclass.
"""

import datetime

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, F, FloatField, Func, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from alarms.models import Alarm
from dashboards import charts
from telemetry.models import Reading
from wells.models import Well

# The admin index's order: these apps first, in this order; ADMIN_INDEX_LAST last, in that order;
# any other app in between, alphabetically as Django lists them.
ADMIN_INDEX_FIRST = ("wells", "alarms", "analytics", "telemetry", "operations")
ADMIN_INDEX_LAST = ("auth", "accounts", "django_celery_beat", "token_blacklist")

# The charts of the well's admin page (``charts.CHARTS`` keys) and their window (``charts.RANGES`` key).
ADMIN_WELL_CHARTS = ("motor_current", "flow")
ADMIN_WELL_CHART_RANGE = "24h"


def ordered_app_list(app_list):
    """``app_list`` (the admin's list of app dicts) with the domain apps first and the plumbing last."""
    rank = {label: i for i, label in enumerate(ADMIN_INDEX_FIRST)}
    rank.update({label: len(ADMIN_INDEX_FIRST) + 1 + i for i, label in enumerate(ADMIN_INDEX_LAST)})
    middle = len(ADMIN_INDEX_FIRST)
    return sorted(app_list, key=lambda app: rank.get(app["app_label"], middle))  # stable: keeps Django's order


def order_admin_index(site):
    """Makes ``site.get_app_list`` (the index, an app's page and the side bar) return ``ordered_app_list``."""
    unordered = site.get_app_list
    if getattr(unordered, "orders_admin_index", False):
        return

    def get_app_list(request, app_label=None):
        return ordered_app_list(unordered(request, app_label))

    get_app_list.orders_admin_index = True
    site.get_app_list = get_app_list


class HealthScoreOfHour(Func):
    """The well's health score (0–100) over the hour starting ``hour``, from ``well_performance_hourly``;
    NULL when it did not report in that hour. One lookup of (well_id, bucket) per row."""

    template = (
        "(SELECT p.health_score FROM well_performance_hourly p WHERE p.well_id = %(expressions)s AND p.bucket = %%s)"
    )
    output_field = FloatField()

    def __init__(self, well, hour):
        super().__init__(well)
        self.hour = hour

    def as_sql(self, compiler, connection, **extra):
        sql, params = super().as_sql(compiler, connection, **extra)
        return sql, (*params, self.hour)


def last_complete_hour(now):
    return now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=1)


def age_text(seconds):
    """How long ago, as an engineer says it: "3 min ago", "5 h ago", "2 d ago"."""
    seconds = max(0, seconds)
    if seconds < 60:
        return "<1 min ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


_registered_well_admin = type(admin.site.get_model_admin(Well))


class WellAdminForEngineers(_registered_well_admin):
    """The Well admin as the other apps left it, plus each well's pulse on the list and its charts."""

    change_form_template = "admin/dashboards/well_change_form.html"
    list_display = [
        *_registered_well_admin.list_display[:4],
        "last_reading_age",
        "health_last_hour",
        "open_alarm_count",
        *_registered_well_admin.list_display[4:],
    ]

    def get_queryset(self, request):
        """Wells with the time of their newest reading (a backwards scan of the readings' primary key
        (well_id, time) that stops at the first row), their last complete hour's health score and their
        open alarms, each a subquery per row: one query for the page, and the readings are never counted.
        Only the well list shows them: a well's own pages (change, readings, delete) load the plain row."""
        wells = super().get_queryset(request)
        match = request.resolver_match
        if match is None or not match.url_name or not match.url_name.endswith("_changelist"):
            return wells
        newest_reading = Reading.objects.filter(well=OuterRef("pk")).order_by("-time").values("time")[:1]
        open_alarms = (
            Alarm.objects.open()
            .filter(well=OuterRef("pk"))
            .order_by()
            .values("well")
            .annotate(n=Count("*"))
            .values("n")
        )
        return wells.annotate(
            last_reading_at=Subquery(newest_reading),
            last_hour_health=HealthScoreOfHour(F("pk"), last_complete_hour(timezone.now())),
            open_alarm_total=Coalesce(Subquery(open_alarms, output_field=IntegerField()), 0),
        )

    @admin.display(description="Last reading", ordering=F("last_reading_at").desc(nulls_last=True))
    def last_reading_age(self, well):
        if well.last_reading_at is None:
            return "—"
        age = (timezone.now() - well.last_reading_at).total_seconds()
        return format_html('<time datetime="{}">{}</time>', well.last_reading_at.isoformat(), age_text(age))

    @admin.display(description="Health (last hour)", ordering=F("last_hour_health").asc(nulls_last=True))
    def health_last_hour(self, well):
        return "—" if well.last_hour_health is None else f"{well.last_hour_health:.0f}"

    @admin.display(description="Open alarms", ordering=F("open_alarm_total").desc())
    def open_alarm_count(self, well):
        if not well.open_alarm_total:
            return "0"
        listing = reverse("admin:alarms_alarm_changelist") + f"?well__id__exact={well.pk}"
        return format_html('<a href="{}">{}</a>', listing, well.open_alarm_total)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        well = self.get_object(request, unquote(object_id)) if object_id else None
        if well is not None:
            chart_data_url = reverse("dashboards:well-chart-data", args=[well.well_id])
            window = charts.RANGES[ADMIN_WELL_CHART_RANGE]
            extra_context = {
                **(extra_context or {}),
                "dashboard_url": reverse("dashboards:well", args=[well.well_id]),
                "chart_window": window,
                "charts": [chart for chart in charts.CHARTS if chart.key in ADMIN_WELL_CHARTS],
                "chart_setup": {
                    "src": f"{chart_data_url}?range={window.key}",
                    "refreshSeconds": window.refresh_seconds,
                    "timezone": well.timezone,
                    "source": window.source,
                    "charts": [c for c in charts.chart_definitions(well) if c["key"] in ADMIN_WELL_CHARTS],
                },
            }
        return super().change_view(request, object_id, form_url, extra_context)


admin.site.unregister(Well)
admin.site.register(Well, WellAdminForEngineers)
