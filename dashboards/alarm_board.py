"""The alarms page's reads: alarms across the fleet by the page's filters, and the KPI panel.

Reads go through the alarms app's models and ``alarms.kpis``; the operator's transitions (acknowledge,
shelve, unshelve) are ``Alarm`` methods that the views call, never the alarms API over HTTP.
"""

import datetime

from alarms import kpis
from alarms.models import Alarm, AlarmState
from dashboards.forms import AlarmFilterForm

KPI_DAYS = 7
# EEMUA 191's steady-state target: fewer than one alarm per 10 minutes per operator.
TARGET_PER_10_MIN = 1.0


def filtered_alarms(values, now):
    """Alarms matching the alarms page's filter ``values`` (see ``AlarmFilterForm``), newest first.

    Open alarms of any age are listed whatever ``days`` says (an alarm standing for weeks must not
    vanish from the list); ``days`` limits the closed ones and "all".
    """
    alarms = Alarm.objects.select_related("well", "acknowledged_by", "shelved_by").order_by("-raised_at", "-id")
    state = values["state"]
    since = now - datetime.timedelta(days=int(values["days"]))
    if state == AlarmFilterForm.NEEDING_ACTION:
        alarms = alarms.needing_action()
    elif state == AlarmFilterForm.OPEN:
        alarms = alarms.open()
    elif state == AlarmFilterForm.ALL:
        alarms = alarms.filter(raised_at__gte=since) | alarms.open()
    elif state == AlarmState.CLOSED:
        alarms = alarms.filter(state=AlarmState.CLOSED, closed_at__gte=since)
    else:
        alarms = alarms.filter(state=state)
    if values["severity"]:
        alarms = alarms.filter(peak_severity=values["severity"])
    if values["well"]:
        alarms = alarms.filter(well__well_id=values["well"].strip().upper())
    if values["type"]:
        alarms = alarms.filter(alarm_type=values["type"])
    return alarms


def kpi_panel(now):
    """The alarm-system KPIs of the last ``KPI_DAYS`` days (``alarms.kpis.alarm_kpis``), with verdicts."""
    figures = kpis.alarm_kpis(days=KPI_DAYS, now=now)
    figures["rate_ok"] = figures["average_per_10_min"] < TARGET_PER_10_MIN
    figures["flood_ok"] = figures["peak_per_10_min"] <= kpis.FLOOD_ABOVE_PER_BUCKET
    figures["target_per_10_min"] = TARGET_PER_10_MIN
    figures["flood_above"] = kpis.FLOOD_ABOVE_PER_BUCKET
    figures["top_alarms"] = figures["top_alarms"][:5]
    median = figures["median_time_to_acknowledge_seconds"]
    figures["median_minutes"] = None if median is None else median / 60
    return figures
