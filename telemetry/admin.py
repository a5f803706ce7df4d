"""Readings in the admin: a read-only page per well, reached from the well's change page.

Django 5.2's admin can't register a model with a composite primary key, so instead of a Reading
ModelAdmin the well's admin gains a ``<well>/readings/`` page. It shows readings newest first, 100 at a
time, paged by time (``?before=<ISO time>``, a keyset over the primary key) and never counts the table.

The wells app doesn't know about its data (imports run telemetry → wells), so this module extends
``wells.admin.WellAdmin`` and registers the extension in its place.
"""

import datetime
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import BadRequest, PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe

from telemetry.models import Reading
from wells.admin import WellAdmin
from wells.models import Well

READINGS_PAGE_SIZE = 100


def _parse_before(value):
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise BadRequest(f"'before' must be an ISO 8601 time such as 2025-06-01T08:30:00Z, got {value!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


class WellWithReadingsAdmin(WellAdmin):
    change_form_template = "admin/telemetry/well_change_form.html"

    def get_urls(self):
        readings = path(
            "<path:object_id>/readings/",
            self.admin_site.admin_view(require_safe(self.readings_view)),
            name=f"{self.opts.app_label}_{self.opts.model_name}_readings",
        )
        return [readings, *super().get_urls()]

    def readings_view(self, request, object_id):
        """Read-only, newest-first page of one well's readings; needs view permission on wells."""
        well = self.get_object(request, unquote(object_id))
        if well is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, well):
            raise PermissionDenied
        before = _parse_before(request.GET.get("before"))
        rows = list(Reading.objects.newest_before(well, before, limit=READINGS_PAGE_SIZE + 1))
        older_url = None
        if len(rows) > READINGS_PAGE_SIZE:
            rows = rows[:READINGS_PAGE_SIZE]
            older_url = "?" + urlencode({"before": rows[-1]["time"].astimezone(datetime.UTC).isoformat()})
        columns = [Reading._meta.get_field(name).verbose_name for name in Reading.METRIC_FIELDS]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": well,
            "title": f"Readings of {well.well_id}",
            "well_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[well.pk]),
            "columns": columns,
            "rows": [
                (row["time"].astimezone(datetime.UTC), [row[name] for name in Reading.METRIC_FIELDS]) for row in rows
            ],
            "before": before,
            "older_url": older_url,
            "page_size": READINGS_PAGE_SIZE,
        }
        return TemplateResponse(request, "admin/telemetry/well_readings.html", context)


admin.site.unregister(Well)
admin.site.register(Well, WellWithReadingsAdmin)
