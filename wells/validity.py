"""When a well's readings are valid: plain code over dates and zones, shared by ingest and the simulator."""

import datetime
import zoneinfo


def first_valid_time(install_date, timezone):
    """Midnight of ``install_date`` in the well's IANA ``timezone``, as UTC: no reading of the well is earlier."""
    local_midnight = datetime.datetime.combine(install_date, datetime.time.min, zoneinfo.ZoneInfo(timezone))
    return local_midnight.astimezone(datetime.UTC)
