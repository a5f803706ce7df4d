"""Metric ranges and units are written once (telemetry/metrics_catalogue.py); ingest, the API docs and the
dashboards all say what it says."""

import json

import pytest

from dashboards.charts import CHARTS, latest_values
from telemetry.ingest import InvalidReadings, ingest_readings, parse_batch
from telemetry.metrics_catalogue import METRICS, REQUIRED_METRICS
from telemetry.models import Reading
from tests.config.openapi_responses import published_schema
from tests.telemetry.conftest import reading

pytestmark = pytest.mark.django_db


def test_it_lists_every_metric_a_reading_stores():
    assert tuple(metric.field for metric in METRICS) == Reading.METRIC_FIELDS


def test_ingest_refuses_just_outside_each_range_naming_the_unit(well):
    readings = []
    for metric in METRICS:
        readings += [reading(**{metric.field: metric.lowest - 1}), reading(**{metric.field: metric.highest + 1})]
    with pytest.raises(InvalidReadings) as caught:
        ingest_readings(parse_batch(json.dumps({"readings": readings}).encode()))
    refused = [(error["field"], error["code"]) for error in caught.value.errors]
    assert refused == [(metric.field, code) for metric in METRICS for code in ("min_value", "max_value")]
    for error, metric in zip(caught.value.errors[1::2], METRICS, strict=True):
        assert metric.unit in error["message"]


def test_the_api_docs_give_the_catalogues_ranges_and_required_fields():
    documented = published_schema()["components"]["schemas"]["TelemetryReadingRequest"]
    for metric in METRICS:
        field = documented["properties"][metric.field]
        assert (field["minimum"], field["maximum"]) == (metric.lowest, metric.highest)
        assert metric.unit in field["description"]
    assert set(REQUIRED_METRICS) <= set(documented["required"])
    assert not {metric.field for metric in METRICS if not metric.required} & set(documented["required"])


def test_the_dashboards_label_with_the_catalogues_units():
    units = {metric.field: metric.unit for metric in METRICS}
    for chart in CHARTS:
        assert {units[field] for field, _label in chart.series} == {chart.unit}
    assert {row["metric"]: row["unit"] for row in latest_values({})} == units
