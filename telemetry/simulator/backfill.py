"""Backfill: days of simulated history written through the ingest write path, fast.

``backfill()`` generates each well's readings with ``telemetry.simulator.model`` and writes them with
``telemetry.ingest.store_rows``; large backfills generate in a second process while this one writes.
"""

import datetime
import math
import multiprocessing
import queue
import traceback
from dataclasses import dataclass

from telemetry.simulator.model import PumpSpec, WellSimulator


def generate_rows(simulators, well_pks, first_epochs, start_epoch, end_epoch, interval_s):
    """Rows for ``store_rows`` — (well pk, UTC time, nine metrics) — time by time, every well at each time.

    ``first_epochs[i]`` is the earliest time well i may report (install date, retention); earlier times
    are skipped for that well. Times run over [start_epoch, end_epoch) in steps of ``interval_s``.
    """
    wells = list(zip(simulators, well_pks, first_epochs, strict=True))
    epoch = start_epoch
    while epoch < end_epoch:
        time = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        for simulator, well_pk, first_epoch in wells:
            if epoch >= first_epoch:
                yield (well_pk, time, *simulator.metrics_at_epoch(epoch))
        epoch += interval_s


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _BackfillPlan:
    """Everything needed to generate a backfill's rows, picklable for the generating process."""

    specs: list
    well_pks: list
    first_epochs: list
    faults: tuple
    seed: int
    start_epoch: float
    end_epoch: float
    interval_s: int
    chunk_size: int

    def chunks(self):
        simulators = [WellSimulator(spec, seed=self.seed, faults=self.faults) for spec in self.specs]
        rows = generate_rows(
            simulators, self.well_pks, self.first_epochs, self.start_epoch, self.end_epoch, self.interval_s
        )
        return _chunks(rows, self.chunk_size)

    def row_estimate(self):
        return len(self.specs) * max(0.0, self.end_epoch - self.start_epoch) / self.interval_s


def _generate_chunks_into(plan, chunks):
    """Body of the generating process: put each chunk of rows on ``chunks``, then None (or the error text)."""
    try:
        for chunk in plan.chunks():
            chunks.put(chunk)
        chunks.put(None)
    except Exception:  # the writing process re-raises it with the traceback
        chunks.put(traceback.format_exc())


def _chunks_from_another_process(plan):
    """``plan.chunks()``, computed by a second process while this one writes.

    A process, not a thread: generating is pure Python and would hold the GIL that the writing thread
    needs between its COPY round trips. Forked, so it needs no importable ``__main__``; the child never
    touches the database connection it inherits and leaves through ``os._exit`` without closing it.
    """
    context = multiprocessing.get_context("fork")
    chunks = context.Queue(maxsize=4)
    producer = context.Process(
        target=_generate_chunks_into, args=(plan, chunks), name="simulate-backfill-rows", daemon=True
    )
    producer.start()
    try:
        while True:
            try:
                chunk = chunks.get(timeout=1.0)
            except queue.Empty:
                if not producer.is_alive():
                    raise RuntimeError(
                        f"the backfill's generating process died (exit code {producer.exitcode})"
                    ) from None
                continue
            if chunk is None:
                return
            if isinstance(chunk, str):
                raise RuntimeError(f"generating the backfill failed:\n{chunk}")
            yield chunk
    finally:
        if producer.is_alive():
            producer.terminate()
        producer.join()


# Below this many rows the second process costs more to start than it saves.
PARALLEL_BACKFILL_MIN_ROWS = 200_000


def backfill(wells, start, end, interval=60, faults=(), seed=0, *, chunk_size=10_000, on_chunk=None):
    """Write simulated readings for ``wells`` (Well rows) over [start, end) every ``interval`` seconds.

    Times are aligned to whole multiples of ``interval`` and end at the present at the latest; times
    before a well's install date or outside the raw-data retention window are skipped. Rows go through
    ``telemetry.ingest.store_rows`` (binary COPY, duplicates ignored, the rollups' change log written) in
    chunks of ``chunk_size``, each its own transaction. Large backfills generate rows in a second process
    while this one writes. ``on_chunk(generated, inserted)`` is called after each chunk with running
    totals. Returns how many rows were inserted (re-running over the same range inserts none).
    """
    from django.conf import settings

    from telemetry.ingest import store_rows

    now = datetime.datetime.now(datetime.UTC)
    # A minute inside the retention cut-off, so the oldest rows aren't on the edge of being refused.
    oldest = (now - datetime.timedelta(days=settings.TELEMETRY_RETENTION_DAYS, minutes=-1)).timestamp()
    interval = int(interval)
    specs = [PumpSpec.of(well) for well in wells]
    plan = _BackfillPlan(
        specs=specs,
        well_pks=[well.pk for well in wells],
        first_epochs=[max(spec.first_valid_time().timestamp(), oldest) for spec in specs],
        faults=tuple(faults),
        seed=seed,
        start_epoch=math.ceil(start.timestamp() / interval) * interval,
        end_epoch=min(end, now).timestamp(),
        interval_s=interval,
        chunk_size=chunk_size,
    )
    parallel = plan.row_estimate() >= PARALLEL_BACKFILL_MIN_ROWS
    generated = inserted = 0
    for chunk in _chunks_from_another_process(plan) if parallel else plan.chunks():
        inserted += store_rows(chunk)
        generated += len(chunk)
        if on_chunk:
            on_chunk(generated, inserted)
    return inserted
