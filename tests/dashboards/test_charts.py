"""The well page's chart data: never more points than pixels, spikes kept, raw or rollup by range."""

import datetime

import pytest
from django.utils import timezone

from analytics.rollups import refresh_rollups
from dashboards import charts
from telemetry.ingest import ReadingIn, ingest_readings
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db

SPIKE_A = 180.0


def _ingest(well, start, minutes, every=1, current=lambda i: 45.0, skip=()):
    readings = [
        ReadingIn(
            well_id=well.well_id,
            timestamp=start + datetime.timedelta(minutes=i),
            flow_rate=1000.0 + i % 5,
            pip=900.0,
            motor_current=current(i),
            motor_temp=110.0,
        )
        for i in range(0, minutes, every)
        if i not in skip
    ]
    for offset in range(0, len(readings), 5000):
        ingest_readings(readings[offset : offset + 5000])
    return readings


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


@pytest.fixture
def pumping_well(db, now):
    """A day of 1-minute readings with one reading of a 180 A current spike, 7 hours ago."""
    well = WellFactory(well_id="CHART-001")
    spike_at = 24 * 60 - 7 * 60
    _ingest(well, now - datetime.timedelta(hours=24), 24 * 60, current=lambda i: SPIKE_A if i == spike_at else 45.0)
    return well


@pytest.mark.parametrize("range_key", list(charts.RANGES))
@pytest.mark.parametrize("points", [60, 333, 800, 1920, 4000])
def test_a_chart_never_gets_more_buckets_than_pixels(range_key, points):
    window = charts.RANGES[range_key]
    step = charts.bucket_seconds(window.span, points, window.source)
    assert window.span.total_seconds() / step <= points
    assert step in charts.STEPS or step % charts.STEPS[-1] == 0  # whole days beyond the widest step
    if window.source == charts.HOURLY:
        assert step % 3600 == 0


@pytest.mark.parametrize("points", [80, 300, 1000])
def test_a_one_reading_spike_survives_downsampling(pumping_well, now, points):
    data = charts.chart_data(pumping_well, "24h", points, now)
    current = data["metrics"]["motor_current"]
    assert len(data["times"]) <= points
    assert max(v for v in current["max"] if v is not None) == SPIKE_A
    assert min(v for v in current["min"] if v is not None) == 45.0
    # The bucket's mean is diluted by the other readings in it (unless the bucket holds one reading).
    assert max(v for v in current["avg"] if v is not None) <= SPIKE_A


@pytest.mark.django_db(transaction=True)  # on TimescaleDB the rollup refresh cannot run inside a transaction
def test_short_ranges_read_raw_readings_and_long_ones_the_hourly_rollup(pumping_well, now):
    short = charts.chart_data(pumping_well, "6h", 1000, now)
    assert short["source"] == "raw" and short["step_seconds"] == 30
    refresh_rollups()
    month = charts.chart_data(pumping_well, "30d", 1000, now)
    assert month["source"] == "hourly" and month["step_seconds"] == 3600
    assert 24 <= len(month["times"]) <= 25  # one bucket per hour with readings
    # An hour's mean, not its spike: the 30-day chart reads hourly means of current, and with one hour per
    # bucket the band is the mean itself, so it is not sent again.
    current = month["metrics"]["motor_current"]
    assert current["min"] is None and current["max"] is None
    assert max(v for v in current["avg"] if v is not None) < SPIKE_A
    # Flow keeps its hourly minimum and maximum reading in the rollup.
    flow = month["metrics"]["flow_rate"]
    assert min(v for v in flow["min"] if v is not None) == 1000.0
    assert max(v for v in flow["max"] if v is not None) == 1004.0


def test_a_year_is_cut_into_whole_hour_multiples(pumping_well, now):
    data = charts.chart_data(pumping_well, "1y", 800, now)
    assert data["source"] == "hourly" and data["step_seconds"] == 43200
    assert len(data["times"]) <= 800


def test_a_silence_breaks_the_line(db, now):
    well = WellFactory(well_id="CHART-002")
    # Six hours of 1-minute readings with two hours missing in the middle.
    _ingest(well, now - datetime.timedelta(hours=6), 6 * 60, skip=set(range(120, 240)))
    data = charts.chart_data(well, "6h", 1000, now)
    flow = data["metrics"]["flow_rate"]["avg"]
    assert flow.count(None) == 1
    gap = flow.index(None)
    assert data["times"][gap + 1] - data["times"][gap - 1] > 7000


def test_readings_sent_every_15_minutes_stay_one_line(db, now):
    well = WellFactory(well_id="CHART-003")
    _ingest(well, now - datetime.timedelta(hours=24), 24 * 60, every=15)
    data = charts.chart_data(well, "24h", 1000, now)
    assert None not in data["metrics"]["flow_rate"]["avg"]


def test_sensors_that_never_reported_are_all_null(pumping_well, now):
    data = charts.chart_data(pumping_well, "24h", 500, now)
    assert set(data["metrics"]["vibration"]["avg"]) == {None}


def test_the_endpoint_answers_json_for_the_charts_width(signed_in, viewer, pumping_well):
    response = signed_in(viewer).get("/wells/CHART-001/charts.json?range=24h&points=240")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert len(body["times"]) <= 240 and body["range"] == "24h"
    assert set(body["metrics"]) == set(charts.METRICS)


def test_the_endpoint_bounds_the_width_and_refuses_an_unknown_range(signed_in, viewer, pumping_well):
    client = signed_in(viewer)
    assert client.get("/wells/CHART-001/charts.json?range=5y").status_code == 400
    huge = client.get("/wells/CHART-001/charts.json?range=24h&points=99999999").json()
    assert len(huge["times"]) <= charts.MAX_POINTS
    assert client.get("/wells/CHART-001/charts.json?range=24h&points=abc").status_code == 200
    assert client.get("/wells/NOPE-001/charts.json").status_code == 404
