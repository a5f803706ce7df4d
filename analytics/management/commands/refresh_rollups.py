"""Refresh the rollups now: what changed since the last refresh, or every bucket in a range."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from analytics.rollups import refresh_lag, refresh_rollups


def _moment(value, option):
    moment = parse_datetime(value) if value else None
    if value and (moment is None or moment.tzinfo is None):
        raise CommandError(f"{option} must be an ISO 8601 time with a zone, e.g. 2026-01-01T00:00:00Z")
    return moment


class Command(BaseCommand):
    help = "Refresh the telemetry rollups (incrementally, or fully over --from/--to)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", help="Recompute every bucket from this time (ISO 8601).")
        parser.add_argument("--to", dest="end", help="… up to this time (ISO 8601, exclusive).")

    def handle(self, *args, start, end, **options):
        start, end = _moment(start, "--from"), _moment(end, "--to")
        if (start is None) != (end is None):
            raise CommandError("Give both --from and --to, or neither.")
        if start and start >= end:
            raise CommandError("--to must be after --from.")
        outcome = refresh_rollups(start, end)
        self.stdout.write(self.style.SUCCESS(f"Refreshed rollups: {outcome}"))
        self.stdout.write(f"Refresh lag: {refresh_lag()}")
