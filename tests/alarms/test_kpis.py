"""Alarm KPIs against an independent computation in Python of the same alarms' history."""

import collections
import datetime
import random
import statistics

import pytest

from alarms import kpis, lifecycle
from analytics.models import DiagnosticType
from tests.alarms.conftest import T0, minutes, run_diagnostics
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db

END = T0 + datetime.timedelta(days=1)


class History:
    """What happened, kept the simple way: every activation (pair, time) and every alarm raised in the window."""

    def __init__(self):
        self.activations = []
        self.raised = []  # (alarm, raised_at, first response or None)

    def raise_(self, well, alarm_type, at):
        alarm = lifecycle.raise_alarm(well, alarm_type, "warning", at=at).alarm
        self.activations.append(((well.well_id, alarm_type), at))
        self.raised.append([alarm, at, None])
        return alarm

    def acknowledge(self, alarm, user, at):
        alarm.acknowledge(user, now=at)
        for entry in self.raised:
            if entry[0].pk == alarm.pk and entry[2] is None:
                entry[2] = at


@pytest.fixture
def history(operator, settings):
    settings.ALARM_CLEAR_AFTER_MINUTES = 0
    rng = random.Random(191)
    wells = [WellFactory(well_id=f"KPI-{n:03d}") for n in range(6)]
    pairs = [(well, alarm_type) for well in wells for alarm_type in DiagnosticType.values]
    rng.shuffle(pairs)
    log = History()

    # A flood: 12 alarms within ten minutes, an hour into the window.
    for index, (well, alarm_type) in enumerate(pairs[:12]):
        log.raise_(well, alarm_type, T0 + minutes(60) + datetime.timedelta(seconds=45 * index))
    # Ordinary days: 48 alarms at random times, the first ten acknowledged 1–10 minutes later.
    for index, (well, alarm_type) in enumerate(pairs[12:60]):
        at = T0 + datetime.timedelta(seconds=rng.randrange(int((END - T0).total_seconds()) - 3600))
        alarm = log.raise_(well, alarm_type, at)
        if index < 10:
            log.acknowledge(alarm, operator, at + minutes(index + 1))
    # A chattering pair: back three times within a quarter of an hour.
    chatter = WellFactory(well_id="KPI-900")
    log.raise_(chatter, DiagnosticType.GAS_INTERFERENCE, T0 + minutes(300))
    for back in (305, 310):
        run_diagnostics(chatter, T0 + minutes(back - 1), evaluated={DiagnosticType.GAS_INTERFERENCE})
        lifecycle.raise_alarm(chatter, DiagnosticType.GAS_INTERFERENCE, "warning", at=T0 + minutes(back))
        log.activations.append((("KPI-900", DiagnosticType.GAS_INTERFERENCE.value), T0 + minutes(back)))
    # A standing alarm: active since before the window and still open at its end.
    lifecycle.raise_alarm(WellFactory(well_id="KPI-901"), DiagnosticType.SCALE_WEAR, "warning", at=T0 - minutes(60))
    return log


def test_it_computes_the_rates_flood_and_bad_actors_as_the_history_says(history):
    result = kpis.alarm_kpis(days=1, now=END)

    per_bucket = collections.Counter(int((at - T0) / kpis.BUCKET) for _, at in history.activations)
    buckets = [per_bucket.get(index, 0) for index in range(144)]
    assert result["activations"] == len(history.activations) == 63
    assert result["average_per_10_min"] == round(statistics.mean(buckets), 3)
    assert result["peak_per_10_min"] == max(buckets) >= 12
    assert result["flood_share"] == round(sum(count > 10 for count in buckets) / 144, 4)
    per_pair = collections.Counter(pair for pair, _ in history.activations)
    top = sorted(per_pair.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(row["well_id"], row["alarm_type"], row["activations"]) for row in result["top_alarms"]] == [
        (well_id, alarm_type, count) for (well_id, alarm_type), count in top
    ]
    assert result["top_alarms"][0] == {
        "well_id": "KPI-900",
        "alarm_type": "gas_interference",
        "activations": 3,
        "share": round(3 / 63, 4),
    }


def test_it_counts_standing_and_chattering_alarms(history):
    result = kpis.alarm_kpis(days=1, now=END)
    assert result["standing_alarms"] == 1
    assert result["chattering_alarms"] == 1


def test_it_measures_acknowledgement_of_the_alarms_raised_in_the_window(history):
    result = kpis.alarm_kpis(days=1, now=END)
    responded = [(answered - raised).total_seconds() for _, raised, answered in history.raised if answered]
    assert result["alarms_raised"] == len(history.raised) == 61
    assert result["acknowledged_share"] == round(len(responded) / 61, 4)
    assert result["median_time_to_acknowledge_seconds"] == statistics.median(responded) == 330.0


def test_it_answers_zeros_and_nulls_for_a_quiet_window(db):
    result = kpis.alarm_kpis(days=7, now=END)
    assert (result["activations"], result["average_per_10_min"], result["peak_per_10_min"]) == (0, 0.0, 0)
    assert (result["acknowledged_share"], result["median_time_to_acknowledge_seconds"]) == (None, None)
    assert result["top_alarms"] == []


def test_it_counts_only_the_window(history):
    # The flood was an hour into the day: a window starting after it sees none of it.
    result = kpis.alarm_kpis(days=1, now=END + minutes(120))
    assert result["peak_per_10_min"] < 12
    assert result["flood_share"] == 0.0
