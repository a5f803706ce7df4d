"""Raw readings back out: keyset pages for the API and a streamed CSV export, one well at a time.

Both read one well's readings in a half-open window ``[start, end)`` straight from ``telemetry_reading``
with plain SQL: one range scan of the primary key index (well_id, time), never a model instance and
never a COUNT.

How to use it:

    rows, next_cursor = read_page(well.pk, start, end, ["flow_rate", "pip"], limit=1000)
    rows, next_cursor = read_page(well.pk, start, end, fields, limit=1000, cursor=Cursor.decode(token))
    for chunk in export_csv(well.pk, start, end, fields): ...   # str chunks: header line, then rows

- ``fields`` are metric names from ``Reading.METRIC_FIELDS`` (callers validate what users send; these
  functions refuse anything else with ValueError, since the names become SQL column names).
- Pages are keyset pages: the cursor holds the time of the last reading returned and the direction, and
  the next page starts strictly after it. Readings inserted behind the cursor (late or backfilled data)
  never shift later pages: no reading is skipped or repeated, unlike OFFSET paging.
- ``export_csv`` keeps memory flat whatever the window: it declares a PostgreSQL cursor inside a
  transaction and fetches ``EXPORT_FETCH_ROWS`` rows at a time, already formatted as CSV lines by the
  database. The transaction opens on the first row batch and ends when the generator finishes or is
  closed (closing the response closes it, as the WSGI server does when the client goes away).
  Declaring the cursor in SQL rather than using Django's ``.iterator()`` keeps it a streaming cursor
  under ``DISABLE_SERVER_SIDE_CURSORS`` and behind a transaction-pooling PgBouncer, and avoids the
  WITH HOLD cursor Django declares in autocommit mode, which PostgreSQL materializes in full first.
"""

import base64
import binascii
import datetime
import uuid
from dataclasses import dataclass

from django.db import connection, transaction

from telemetry.models import Reading

ASCENDING = "asc"
DESCENDING = "desc"

PAGE_SIZE_DEFAULT = 1_000
PAGE_SIZE_MAX = 10_000
# Rows per FETCH while exporting: about 150 KB of CSV, few enough that memory stays flat, many enough
# that round trips cost little.
EXPORT_FETCH_ROWS = 2_000

# The export's header, with units in the names so a spreadsheet needs no legend.
CSV_TIME_COLUMN = "time_utc"
CSV_COLUMN_NAMES = {
    "flow_rate": "flow_rate_bbl_d",
    "pip": "pip_psi",
    "casing_pressure": "casing_pressure_psi",
    "tubing_pressure": "tubing_pressure_psi",
    "intake_pressure": "intake_pressure_psi",
    "discharge_pressure": "discharge_pressure_psi",
    "motor_current": "motor_current_a",
    "motor_temp": "motor_temp_c",
    "vibration": "vibration_mm_s",
}

# One well's readings in [start, end), in time order: a range scan of the primary key (well_id, time).
# {select_list} and {direction} are filled only from this module's constants (see _columns).
_READINGS_IN_WINDOW = """
SELECT {select_list}
FROM telemetry_reading
WHERE well_id = %(well)s AND "time" >= %(start)s AND "time" < %(end)s
ORDER BY "time" {direction}
"""
_DIRECTIONS = {ASCENDING: "ASC", DESCENDING: "DESC"}
_COLUMNS = {name: f'"{name}"' for name in Reading.METRIC_FIELDS}

# The export's rows, each one CSV line formatted by PostgreSQL (four times faster than formatting the
# fetched values in Python): the time in UTC as ISO 8601 with a Z, microseconds only when there are any
# (as the JSON pages write it), then each metric as the shortest text that reads back as the same double
# (800 rather than Python's 800.0); a missing value becomes an empty cell. Numbers and times never need
# CSV quoting.
_CSV_TIME = """to_char("time" AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', "time") = "time"
    THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
_CSV_CELLS = {name: f"coalesce({column}::text, '')" for name, column in _COLUMNS.items()}

# The export's cursor lives until CLOSE or the end of its transaction; NO SCROLL lets PostgreSQL stream
# the plan instead of keeping rows it has already sent.
_DECLARE_EXPORT_CURSOR = "DECLARE {name} NO SCROLL CURSOR FOR {query}"
_FETCH_EXPORT_ROWS = "FETCH FORWARD %(rows)s FROM {name}"
_CLOSE_EXPORT_CURSOR = "CLOSE {name}"

_ONE_MICROSECOND = datetime.timedelta(microseconds=1)  # timestamptz resolution
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class InvalidCursor(ValueError):
    """A page token that this module did not issue (or that was damaged on the way)."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: strictly after ``after`` (the last time returned), going ``order``.

    The token is opaque to clients: URL-safe base64 of ``<order>:<microseconds since 1970 UTC>``.
    """

    after: datetime.datetime
    order: str = ASCENDING

    def encode(self):
        microseconds = (self.after - _EPOCH) // _ONE_MICROSECOND
        return base64.urlsafe_b64encode(f"{self.order}:{microseconds}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token):
        """The Cursor a token stands for; raises InvalidCursor for anything ``encode`` could not have made."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            order, microseconds = text.split(":")
            after = _EPOCH + datetime.timedelta(microseconds=int(microseconds))
        except (binascii.Error, UnicodeError, ValueError, OverflowError):
            raise InvalidCursor("not a cursor issued by this API") from None
        # No reading is stamped in the year 9999; refusing it also keeps "after + 1 µs" representable.
        if order not in _DIRECTIONS or after.year == datetime.MAXYEAR:
            raise InvalidCursor("not a cursor issued by this API")
        return cls(after=after, order=order)


def utc_text(moment):
    """ISO 8601 in UTC with a Z, microseconds only when there are any: 2026-11-01T08:30:00Z."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _check_fields(fields):
    """Refuses anything but metric names: they become SQL column names."""
    if not fields or any(name not in _COLUMNS for name in fields):
        raise ValueError(f"fields must be a non-empty selection of {', '.join(Reading.METRIC_FIELDS)}; got {fields!r}")


def _select_readings(fields, order):
    _check_fields(fields)
    select_list = ", ".join(['"time"', *(_COLUMNS[name] for name in fields)])
    return _READINGS_IN_WINDOW.format(select_list=select_list, direction=_DIRECTIONS[order])


def _select_csv_lines(fields):
    _check_fields(fields)
    select_list = "concat_ws(',', {})".format(", ".join([_CSV_TIME, *(_CSV_CELLS[name] for name in fields)]))
    return _READINGS_IN_WINDOW.format(select_list=select_list, direction=_DIRECTIONS[ASCENDING])


def read_page(well_pk, start, end, fields, *, limit=PAGE_SIZE_DEFAULT, order=ASCENDING, cursor=None):
    """Up to ``limit`` readings of one well in [start, end), in ``order``, after ``cursor`` if given.

    Returns ``(rows, next_cursor)``: rows are dicts ``{"time": "…Z", <field>: value or None, …}``;
    ``next_cursor`` is None when this page reaches the end of the window. One query (it fetches one
    row more than ``limit`` to know whether another page follows).
    """
    if cursor is not None:
        # The cursor only narrows the window: past the last time returned, in the direction of travel.
        if cursor.order == ASCENDING:
            start = max(start, cursor.after + _ONE_MICROSECOND)
        else:
            end = min(end, cursor.after)
    with connection.cursor() as db:
        db.execute(
            _select_readings(fields, order) + "LIMIT %(limit)s",
            {"well": well_pk, "start": start, "end": end, "limit": limit + 1},
        )
        found = db.fetchall()
    next_cursor = Cursor(after=found[limit - 1][0], order=order) if len(found) > limit else None
    rows = [{"time": utc_text(time), **dict(zip(fields, values, strict=True))} for time, *values in found[:limit]]
    return rows, next_cursor


def csv_header(fields):
    return [CSV_TIME_COLUMN, *(CSV_COLUMN_NAMES[name] for name in fields)]


def export_csv(well_pk, start, end, fields, *, fetch_rows=EXPORT_FETCH_ROWS):
    """Yield one well's readings in [start, end) as CSV text, oldest first: the header line, then batches.

    Lines end in CRLF (RFC 4180). Times are UTC (``…Z``); a missing value is an empty cell. Nothing
    touches the database until the first row batch is asked for; one transaction stays open while rows
    are read, and costs one FETCH per ``fetch_rows`` rows.
    """
    query = _select_csv_lines(fields)
    name = f"reading_export_{uuid.uuid4().hex}"  # unique, so exports on one connection never collide
    yield ",".join(csv_header(fields)) + "\r\n"

    with transaction.atomic(), connection.cursor() as db:
        db.execute(_DECLARE_EXPORT_CURSOR.format(name=name, query=query), {"well": well_pk, "start": start, "end": end})
        fetch = _FETCH_EXPORT_ROWS.format(name=name)
        while True:
            db.execute(fetch, {"rows": fetch_rows})
            lines = db.fetchall()
            if not lines:
                break
            yield "".join(f"{line}\r\n" for (line,) in lines)
        # On an error or an early close the transaction's rollback drops the cursor instead.
        db.execute(_CLOSE_EXPORT_CURSOR.format(name=name))
