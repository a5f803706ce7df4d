"""Raw readings out: GET /api/v1/telemetry/readings (keyset pages) and GET /api/v1/telemetry/export.csv."""

import csv
import datetime
import io
import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from telemetry.ingest import ReadingIn, ingest_readings
from telemetry.models import Reading
from telemetry.query import CSV_COLUMN_NAMES, Cursor, export_csv
from tests.api_errors import named_errors
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

READINGS = "/api/v1/telemetry/readings"
EXPORT = "/api/v1/telemetry/export.csv"
ALL_COLUMNS = [
    "time_utc",
    "flow_rate_bbl_d",
    "pip_psi",
    "casing_pressure_psi",
    "tubing_pressure_psi",
    "intake_pressure_psi",
    "discharge_pressure_psi",
    "motor_current_a",
    "motor_temp_c",
    "vibration_mm_s",
]


def utc_text(moment):
    return moment.isoformat().replace("+00:00", "Z")


def every(step, count, last):
    """``count`` times ``step`` apart, oldest first, the last one at ``last``."""
    return [last - step * (count - 1 - n) for n in range(count)]


def store(times, well_id="WELL-001", **metrics):
    """Ingest one reading per time through the ingest path; flow_rate counts 0, 1, 2… (mod 10,000)."""
    for first in range(0, len(times), 50_000):
        ingest_readings(
            [
                ReadingIn(
                    well_id=well_id,
                    timestamp=moment,
                    flow_rate=float((first + n) % 10_000),
                    pip=800.0,
                    motor_current=40.0,
                    **metrics,
                )
                for n, moment in enumerate(times[first : first + 50_000])
            ]
        )


def window(times):
    return {"start": utc_text(times[0]), "end": utc_text(times[-1] + datetime.timedelta(seconds=1))}


def walk(client, url, params=None):
    """Follow ``next`` to the last page; returns (every reading's time, the pages' sizes)."""
    response = client.get(url, params)
    seen, sizes = [], []
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["count"] == len(body["readings"])
        seen += [row["time"] for row in body["readings"]]
        sizes.append(body["count"])
        if body["next"] is None:
            return seen, sizes
        response = client.get(body["next"])


@pytest.fixture
def last_hour(now):
    """3,000 readings of WELL-001, ten seconds apart, ending an hour ago, and some of WELL-002 in between."""
    return every(datetime.timedelta(seconds=10), 3_000, now - datetime.timedelta(hours=1))


# --- Paging --------------------------------------------------------------------------------------


def test_it_walks_every_reading_exactly_once_in_time_order(viewer_client, well, second_well, last_hour):
    store(last_hour)
    store(last_hour[::7], well_id="WELL-002")

    seen, sizes = walk(viewer_client, READINGS, {"well_id": "WELL-001", "limit": 700, **window(last_hour)})

    assert seen == [utc_text(moment) for moment in last_hour]
    assert sizes == [700, 700, 700, 700, 200]


def test_it_walks_newest_first_with_order_desc(viewer_client, well, last_hour):
    store(last_hour)

    seen, sizes = walk(
        viewer_client, READINGS, {"well_id": "WELL-001", "limit": 1_000, "order": "desc", **window(last_hour)}
    )

    assert seen == [utc_text(moment) for moment in reversed(last_hour)]
    assert sizes == [1_000, 1_000, 1_000]


def test_it_ends_without_an_empty_page_when_the_window_divides_evenly(viewer_client, well, last_hour):
    store(last_hour)

    _, sizes = walk(viewer_client, READINGS, {"well_id": "WELL-001", "limit": 1_500, **window(last_hour)})

    assert sizes == [1_500, 1_500]


def test_its_cursor_holds_its_place_when_older_readings_arrive(viewer_client, well, last_hour):
    store(last_hour[::2])  # every 20 s
    params = {"well_id": "WELL-001", "limit": 500, **window(last_hour)}
    first = viewer_client.get(READINGS, params).json()

    # A backfill lands behind the cursor: the odd ten-second slots of the first page's stretch.
    store(last_hour[1:998:2])
    rest, _ = walk(viewer_client, first["next"])

    already = [row["time"] for row in first["readings"]]
    assert already + rest == [utc_text(moment) for moment in last_hour[::2]]


def test_it_returns_only_the_fields_asked_for_in_that_order(viewer_client, well, last_hour):
    store(last_hour[:3], vibration=1.5)

    body = viewer_client.get(READINGS, {"well_id": "WELL-001", "fields": "vibration,flow_rate,motor_temp"}).json()

    assert body["fields"] == ["vibration", "flow_rate", "motor_temp"]
    assert body["readings"][0] == {
        "time": utc_text(last_hour[0]),
        "vibration": 1.5,
        "flow_rate": 0.0,
        "motor_temp": None,
    }
    assert list(body["readings"][0]) == ["time", "vibration", "flow_rate", "motor_temp"]


def test_it_returns_every_metric_by_default(viewer_client, well, last_hour):
    store(last_hour[:1])

    body = viewer_client.get(READINGS, {"well_id": "WELL-001"}).json()

    assert body["fields"] == list(Reading.METRIC_FIELDS)
    assert list(body["readings"][0]) == ["time", *Reading.METRIC_FIELDS]


def test_it_defaults_to_the_last_24_hours(viewer_client, well, now):
    store([now - datetime.timedelta(hours=25), now - datetime.timedelta(hours=23), now - datetime.timedelta(minutes=1)])

    body = viewer_client.get(READINGS, {"well_id": "WELL-001"}).json()

    assert [row["time"] for row in body["readings"]] == [
        utc_text(now - datetime.timedelta(hours=23)),
        utc_text(now - datetime.timedelta(minutes=1)),
    ]
    start = datetime.datetime.fromisoformat(body["start"])
    end = datetime.datetime.fromisoformat(body["end"])
    assert end - start == datetime.timedelta(hours=24)
    assert abs(end - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)


def test_its_next_link_pins_the_default_window(viewer_client, well, last_hour):
    store(last_hour[:3])

    body = viewer_client.get(READINGS, {"well_id": "WELL-001", "limit": 2}).json()

    assert body["next"].startswith("http://testserver/api/v1/telemetry/readings?")
    following = viewer_client.get(body["next"]).json()
    assert (following["start"], following["end"]) == (body["start"], body["end"])
    assert [row["time"] for row in following["readings"]] == [utc_text(last_hour[2])]


def test_it_reads_times_with_an_offset_or_without_a_zone_as_the_same_instant(viewer_client, well, last_hour):
    store(last_hour[:3])
    riyadh = datetime.timezone(datetime.timedelta(hours=3))
    expected = [utc_text(moment) for moment in last_hour[1:3]]

    with_offset = {"start": last_hour[1].astimezone(riyadh).isoformat(), "end": window(last_hour[:3])["end"]}
    without_zone = {"start": last_hour[1].replace(tzinfo=None).isoformat(), "end": window(last_hour[:3])["end"]}
    for bounds in (with_offset, without_zone):
        body = viewer_client.get(READINGS, {"well_id": "WELL-001", **bounds}).json()
        assert [row["time"] for row in body["readings"]] == expected


def test_it_never_counts_the_readings_table(viewer_client, well, last_hour):
    store(last_hour[:10])

    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(READINGS, {"well_id": "WELL-001", "limit": 3}).status_code == 200

    assert not any("COUNT(" in query["sql"].upper() for query in queries)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"well_id": None}, "well_id"),
        ({"well_id": ""}, "well_id"),
        ({"fields": "flow_rate,flow"}, "fields"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-01T00:00:00Z"}, "end"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
        ({"start": "2999-01-01T00:00:00Z"}, "end"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": Cursor(datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC), "desc").encode()}, "cursor"),
    ],
)
def test_it_answers_400_naming_the_bad_parameter(viewer_client, well, params, named):
    params = {name: value for name, value in {"well_id": "WELL-001", **params}.items() if value is not None}
    response = viewer_client.get(READINGS, params)

    assert response.status_code == 400
    assert list(named_errors(response)) == [named]


def test_it_answers_404_for_an_unknown_well(viewer_client, well):
    response = viewer_client.get(READINGS, {"well_id": "WELL-999"})

    assert response.status_code == 404
    assert "WELL-999" in response.json()["detail"]


@pytest.fixture
def client_without_role(db):
    client = APIClient()
    client.force_authenticate(UserFactory(username="nora_norole"))
    return client


@pytest.mark.parametrize("path", [READINGS, EXPORT])
def test_it_lets_viewers_in_and_keeps_others_out(path, viewer_client, anonymous_client, client_without_role, well):
    assert viewer_client.get(path, {"well_id": "WELL-001"}).status_code == 200
    assert anonymous_client.get(path, {"well_id": "WELL-001"}).status_code == 401
    assert client_without_role.get(path, {"well_id": "WELL-001"}).status_code == 403


# --- Export --------------------------------------------------------------------------------------


def exported(response):
    assert response.status_code == 200
    assert response.streaming is True
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_it_exports_every_reading_oldest_first_under_a_header_with_units(viewer_client, well, second_well, last_hour):
    store(last_hour, vibration=2.5)
    store(last_hour[::3], well_id="WELL-002")

    response = viewer_client.get(EXPORT, {"well_id": "WELL-001", **window(last_hour)})
    rows = exported(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert rows[0] == ALL_COLUMNS
    assert [row[0] for row in rows[1:]] == [utc_text(moment) for moment in last_hour]
    assert rows[1] == [utc_text(last_hour[0]), "0", "800", "", "", "", "", "40", "", "2.5"]
    assert rows[-1][1] == "2999"


def test_it_names_the_file_after_the_well_and_the_window(viewer_client, well):
    response = viewer_client.get(
        EXPORT, {"well_id": "WELL-001", "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}
    )

    assert response["Content-Disposition"] == 'attachment; filename="WELL-001_2026-11-01_2026-11-02.csv"'
    assert exported(response) == [ALL_COLUMNS]


def test_it_exports_only_the_fields_asked_for(viewer_client, well, last_hour):
    store(last_hour[:2])

    rows = exported(viewer_client.get(EXPORT, {"well_id": "WELL-001", "fields": "pip,flow_rate"}))

    assert rows == [
        ["time_utc", "pip_psi", "flow_rate_bbl_d"],
        [utc_text(last_hour[0]), "800", "0"],
        [utc_text(last_hour[1]), "800", "1"],
    ]


def test_it_writes_times_and_numbers_as_the_json_pages_do(viewer_client, well, last_hour):
    odd = last_hour[0].replace(microsecond=120_000)
    store([odd, last_hour[1]], vibration=1.0 / 3)

    page = viewer_client.get(READINGS, {"well_id": "WELL-001", "fields": "vibration"}).json()["readings"]
    rows = exported(viewer_client.get(EXPORT, {"well_id": "WELL-001", "fields": "vibration"}))[1:]

    assert (
        [row["time"] for row in page]
        == [row[0] for row in rows]
        == [
            odd.isoformat().replace("+00:00", "Z"),
            utc_text(last_hour[1]),
        ]
    )
    assert rows[0][0].endswith(".120000Z")
    assert [float(row[1]) for row in rows] == [row["vibration"] for row in page] == [1.0 / 3, 1.0 / 3]


def test_every_metric_has_a_csv_column_with_its_unit():
    assert list(CSV_COLUMN_NAMES) == list(Reading.METRIC_FIELDS)


def test_it_exports_to_a_signed_in_browser_session(client, well, viewer, last_hour):
    store(last_hour[:5])
    client.force_login(viewer)

    rows = exported(client.get(EXPORT, {"well_id": "WELL-001"}, HTTP_ACCEPT="text/html,*/*;q=0.8"))

    assert len(rows) == 6


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"fields": "flow"}, "fields"),
        ({"start": "soon"}, "start"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
    ],
)
def test_its_bad_parameters_answer_json_even_to_a_csv_client(viewer_client, well, params, named):
    response = viewer_client.get(EXPORT, {"well_id": "WELL-001", **params}, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(named_errors(response)) == [named]


def test_its_unknown_well_is_a_json_404(viewer_client, well):
    response = viewer_client.get(EXPORT, {"well_id": "WELL-999"}, HTTP_ACCEPT="text/csv")

    assert response.status_code == 404
    assert "WELL-999" in response.json()["detail"]


def test_it_lets_go_of_the_database_when_the_client_goes_away(well, last_hour):
    store(last_hour)
    chunks = export_csv(well.pk, last_hour[0], last_hour[-1], ["pip"], fetch_rows=1_000)
    next(chunks), next(chunks)  # the header, then the first batch
    assert open_database_cursors() == 1

    chunks.close()  # what closing the response does when the client hangs up

    assert open_database_cursors() == 0


def open_database_cursors():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        return cursor.fetchone()[0]


def peak_memory_of_export(client, params):
    """(rows, peak bytes Python allocated) while requesting and consuming the export chunk by chunk."""
    tracemalloc.start()
    try:
        response = client.get(EXPORT, params)
        assert response.streaming is True
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines - 1, peak


def test_its_memory_stays_flat_however_many_rows_it_streams(viewer_client, well, now):
    times = every(datetime.timedelta(seconds=1), 200_000, now - datetime.timedelta(hours=1))
    store(times, motor_temp=95.0, vibration=1.8)

    small = peak_memory_of_export(viewer_client, {"well_id": "WELL-001", **window(times[:50_000])})
    large = peak_memory_of_export(viewer_client, {"well_id": "WELL-001", **window(times)})

    assert (small[0], large[0]) == (50_000, 200_000)
    # Four times the rows: the peak stays that of one fetched batch (about a megabyte), not 4x.
    assert large[1] < 1.5 * small[1]
    assert large[1] < 8 * 1024 * 1024
