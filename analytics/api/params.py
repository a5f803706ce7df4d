"""Query parameters of the analytics endpoints: bounds checked, errors naming the parameter.

A window is either the last ``hours`` / ``days`` (whole buckets, the current one included) or an
explicit ``start`` / ``end`` (ISO 8601; ``end`` defaults to now).

Parsed by ``config.params.QueryParams``: an empty parameter is refused, a bad choice lists the choices.
"""

import datetime
import zoneinfo

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from config.params import QueryParams

MAX_HOURS = 8_784  # a leap year
MAX_DAYS = 3_660  # ten years
MAX_RANKING = 1_000
# 15-minute buckets come from raw readings; past a week that is no longer a cheap read.
MAX_RAW_WINDOW = datetime.timedelta(days=7)


def start_of_hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def start_of_local_day(moment):
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(settings.ANALYTICS_TIMEZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class _WindowParams(QueryParams):
    start = serializers.DateTimeField(required=False, help_text="ISO 8601; instead of the count of buckets.")
    end = serializers.DateTimeField(required=False, help_text="ISO 8601; defaults to now.")

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if end is not None and start is None:
            raise serializers.ValidationError({"start": "Give start with end."})
        if start is not None:
            end = end or timezone.now()
            if start >= end:
                raise serializers.ValidationError({"end": "end must be after start."})
            attrs["end"] = end
            # The window is start/end, not a count of buckets: don't echo a default count back.
            for count in ("hours", "days"):
                if count in attrs:
                    attrs[count] = None
        else:
            attrs["start"], attrs["end"] = self.last_buckets(attrs)
        return attrs


class HoursWindowParams(_WindowParams):
    hours = serializers.IntegerField(default=24, min_value=1, max_value=MAX_HOURS)

    def last_buckets(self, attrs):
        """The last ``hours`` whole hours, the current one included."""
        end = start_of_hour(timezone.now()) + datetime.timedelta(hours=1)
        return end - datetime.timedelta(hours=attrs["hours"]), end


class HourlyParams(HoursWindowParams):
    bucket = serializers.ChoiceField(
        choices=["15m", "1h", "1d"],
        default="1h",
        help_text="15m from raw readings (windows up to 7 days), 1h from the hourly rollup, 1d folded into local days.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["bucket"] == "15m" and attrs["end"] - attrs["start"] > MAX_RAW_WINDOW:
            raise serializers.ValidationError({"bucket": "15m buckets are available for windows of up to 7 days."})
        return attrs


class DaysWindowParams(_WindowParams):
    days = serializers.IntegerField(default=30, min_value=1, max_value=MAX_DAYS)

    def last_buckets(self, attrs):
        """The last ``days`` local days in ANALYTICS_TIMEZONE, today included."""
        today = start_of_local_day(timezone.now())
        # Step in local dates, then back to aware datetimes, so DST days count as one day each.
        first = (today.date() - datetime.timedelta(days=attrs["days"] - 1), today.date() + datetime.timedelta(days=1))
        tz = today.tzinfo
        return tuple(datetime.datetime.combine(day, datetime.time(), tzinfo=tz) for day in first)


class DiagnosticDaysParams(DaysWindowParams):
    """A week by default: diagnostics are read for what happened lately."""

    days = serializers.IntegerField(default=7, min_value=1, max_value=MAX_DAYS)


class RankingParams(QueryParams):
    limit = serializers.IntegerField(default=10, min_value=1, max_value=MAX_RANKING)
    order = serializers.ChoiceField(choices=["asc", "desc"], default="desc", help_text="desc: best first.")
    hours = serializers.IntegerField(
        default=24, min_value=1, max_value=MAX_HOURS, help_text="Only wells with a scored hour this recent."
    )


class OverviewParams(QueryParams):
    hours = serializers.IntegerField(
        default=24, min_value=1, max_value=MAX_HOURS, help_text="Only wells with a scored hour this recent."
    )
