"""``manage.py simulate``: demo ESP telemetry, live (MQTT or HTTP) or as a fast backfill (telemetry/simulator/)."""

import datetime
import signal
import threading
import time
from argparse import RawDescriptionHelpFormatter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from telemetry.simulator import faults as fault_catalogue
from telemetry.simulator import live
from telemetry.simulator.backfill import backfill
from telemetry.simulator.model import PumpSpec, WellSimulator
from wells.models import Well

EXAMPLES = """
examples:
  simulate --live --demo-faults                      one reading per active well every 10 s over MQTT
  simulate --live --fault WELL-003:gas_lock:+10m:30m --fault WELL-007:broken_shaft:+1m:2h
  simulate --live --via http --url http://127.0.0.1:8000 --username omar --password '...'
  simulate --backfill-days 90 --interval 60          every active well, 90 days at 1-minute readings
  simulate --backfill-days 7 --wells WELL-001,WELL-003 --fault WELL-003:scale_wear:-6d:5d --seed 7

faults (WELL:KIND:START:DURATION; START is +10m, -2d, now or an ISO time with a zone):
""" + "\n".join(f"  {kind:<17} {effect}" for kind, effect in fault_catalogue.FAULT_KINDS.items())


class _HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's option order, and the examples below kept as written."""


class Command(BaseCommand):
    help = "Simulate ESP telemetry for the wells: live, the way devices send it, or as a fast backfill of N days."

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, formatter_class=_HelpFormatter, epilog=EXAMPLES, **kwargs)

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--live", action="store_true", help="Send one reading per well every --interval seconds.")
        mode.add_argument(
            "--backfill-days", type=float, metavar="N", help="Write N days of history up to now, as fast as possible."
        )
        parser.add_argument(
            "--interval", type=int, metavar="SECONDS", help="Seconds between readings (default: 10 live, 60 backfill)."
        )
        parser.add_argument("--wells", metavar="IDS", help="Comma-separated well ids (default: every active well).")
        parser.add_argument(
            "--fault", action="append", default=[], metavar="WELL:KIND:START:DURATION", help="Schedule a fault."
        )
        parser.add_argument(
            "--demo-faults", action="store_true", help="Live: schedule a few faults on demo wells minutes from now."
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed: the same seed gives the same readings.")
        parser.add_argument("--via", choices=("mqtt", "http"), default="mqtt", help="Live delivery (default mqtt).")
        parser.add_argument("--url", help="Live over HTTP: the platform's base URL, e.g. http://127.0.0.1:8000.")
        parser.add_argument("--username", help="Live over HTTP: an operator's username.")
        parser.add_argument("--password", help="Live over HTTP: that operator's password.")
        parser.add_argument("--ticks", type=int, metavar="N", help="Live: stop after N rounds (default: run on).")
        parser.add_argument(
            "--chunk-size", type=int, default=10_000, help="Backfill: readings per transaction (default 10000)."
        )

    def handle(self, *args, **options):
        now = datetime.datetime.now(datetime.UTC)
        wells = self._wells(options["wells"])
        try:
            faults = [fault_catalogue.parse_fault(text, now) for text in options["fault"]]
        except ValueError as error:
            raise CommandError(f"--fault: {error}") from None
        chosen = {well.well_id for well in wells}
        if stray := sorted({fault.well_id for fault in faults} - chosen):
            raise CommandError(f"--fault names well(s) not simulated: {', '.join(stray)}")
        if options["interval"] is not None and options["interval"] < 1:
            raise CommandError("--interval must be at least 1 second.")
        if options["live"]:
            if options["demo_faults"]:
                faults += fault_catalogue.demo_faults(now, [well.well_id for well in wells])
            self._live(wells, faults, options)
        else:
            if options["demo_faults"]:
                raise CommandError("--demo-faults schedules faults minutes from now: use it with --live.")
            self._backfill(wells, faults, now, options)

    def _wells(self, ids):
        if not ids:
            wells = list(Well.objects.active())
            if not wells:
                raise CommandError("No active wells: run `manage.py load_demo` or add wells first.")
            return wells
        wanted = [well_id.strip() for well_id in ids.split(",") if well_id.strip()]
        wells = {well.well_id: well for well in Well.objects.filter(well_id__in=wanted)}
        if missing := [well_id for well_id in wanted if well_id not in wells]:
            raise CommandError(f"Unknown well(s): {', '.join(missing)}")
        return [wells[well_id] for well_id in wanted]

    def _live(self, wells, faults, options):
        interval = options["interval"] or 10
        if options["via"] == "http":
            if not (options["url"] and options["username"] and options["password"]):
                raise CommandError("--via http needs --url, --username and --password.")
            deliver = live.HttpDelivery(options["url"], options["username"], options["password"])
        else:
            deliver = live.MqttDelivery(settings.MQTT_URL, settings.MQTT_TOPIC)
        simulators = [WellSimulator(PumpSpec.of(well), seed=options["seed"], faults=faults) for well in wells]
        for fault in sorted(faults, key=lambda f: f.start):
            self.stdout.write(f"fault scheduled: {fault}")
        self.stdout.write(f"Simulating {len(wells)} wells every {interval} s over {deliver}; Ctrl-C stops.")
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            live.run_live(simulators, deliver, interval, stop=stop, ticks=options["ticks"], say=self.stdout.write)
        finally:
            deliver.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _backfill(self, wells, faults, now, options):
        days = options["backfill_days"]
        if days <= 0:
            raise CommandError("--backfill-days must be positive.")
        if days > settings.TELEMETRY_RETENTION_DAYS:
            raise CommandError(
                f"--backfill-days can't exceed the retention window ({settings.TELEMETRY_RETENTION_DAYS})."
            )
        interval = options["interval"] or 60
        start = now - datetime.timedelta(days=days)
        began = time.perf_counter()
        progress = {"written": 0, "reported": began}

        def report(written, inserted):
            progress["written"] = written
            moment = time.perf_counter()
            if moment - progress["reported"] >= 5:
                progress["reported"] = moment
                self.stdout.write(f"  {written:,} readings written ({written / (moment - began):,.0f}/s)")

        inserted = backfill(
            wells, start, now, interval, faults, options["seed"], chunk_size=options["chunk_size"], on_chunk=report
        )
        elapsed = time.perf_counter() - began
        written = progress["written"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Backfilled {len(wells)} wells over {days:g} days every {interval} s: {written:,} readings "
                f"({inserted:,} new, {written - inserted:,} already stored) in {elapsed:.1f} s, "
                f"{written / elapsed if elapsed else 0:,.0f} readings/s"
            )
        )
