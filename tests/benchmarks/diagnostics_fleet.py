"""One diagnostics cycle over a fleet of 2,000 wells: does the 5-minute beat cadence hold on 2 cores?

Data (generated in the test's transaction, rolled back after): 2,000 active wells, each with its last
two hours of 1-minute readings (the rules' raw window) and a week of hourly readings before them, so
every well has a baseline in the hourly rollup as a real fleet does. A fifth of the wells are in a
fault. Prints the cycle's wall time split into loading (the two queries per batch), the rules, and
storing findings plus raising alarms; fails when the cycle takes longer than the target.

Run with ``make bench BENCH=tests/benchmarks/diagnostics_fleet.py``.
"""

import datetime
import time

import factory
import pytest
from django.utils import timezone

from analytics.diagnostics import engine
from analytics.rollups import refresh_rollups
from telemetry.simulator.backfill import backfill
from telemetry.simulator.faults import FAULT_KINDS, FaultEpisode
from tests.factories import WellFactory
from wells.models import Well, WellStatus

WELLS = 2_000
TARGET_S = 60.0


class Stopwatch:
    """Adds up the time spent in wrapped functions."""

    def __init__(self):
        self.seconds = {}

    def wrap(self, name, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed


@pytest.mark.django_db
def test_one_cycle_over_2000_wells_fits_the_beat_interval(monkeypatch):
    now = timezone.now().replace(second=0, microsecond=0)
    Well.objects.update(status=WellStatus.MAINTENANCE)  # other benchmarks' wells sit this cycle out
    wells = WellFactory.create_batch(
        WELLS,
        well_id=factory.Sequence(lambda n: f"FLEET-{n:05d}"),
        install_date=(now - datetime.timedelta(days=10)).date(),
    )
    kinds = sorted(FAULT_KINDS)
    faults = [
        FaultEpisode(
            well.well_id, kinds[n % len(kinds)], now - datetime.timedelta(minutes=30), datetime.timedelta(hours=1)
        )
        for n, well in enumerate(wells[: WELLS // 5])
    ]
    started = time.perf_counter()
    backfill(wells, now - datetime.timedelta(days=7), now - engine.RECENT_WINDOW, interval=3600)
    backfill(wells, now - engine.RECENT_WINDOW, now + datetime.timedelta(seconds=1), interval=60, faults=faults)
    refresh_rollups()
    print(f"\nData: {WELLS} wells, generated in {time.perf_counter() - started:.0f} s")

    watch = Stopwatch()
    monkeypatch.setattr(engine, "_inputs", watch.wrap("load (2 queries per batch)", engine._inputs))
    monkeypatch.setattr(engine, "diagnose", watch.wrap("rules", engine.diagnose))
    monkeypatch.setattr(engine, "_record", watch.wrap("store findings, raise alarms", engine._record))
    started = time.perf_counter()
    outcome = engine.run_fleet(now)
    elapsed = time.perf_counter() - started

    print(f"One diagnostics cycle: {outcome.wells} wells, {outcome.findings} findings, {elapsed:.1f} s")
    for name, seconds in watch.seconds.items():
        print(f"  {name:<32} {seconds:6.1f} s")
    print(f"  target: ≤ {TARGET_S:.0f} s (the beat interval is 300 s)")
    assert outcome.wells == WELLS and outcome.failed_wells == 0
    assert outcome.findings >= WELLS // 10  # the faulty fifth is seen
    assert elapsed <= TARGET_S
