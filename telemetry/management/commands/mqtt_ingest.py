"""``manage.py mqtt_ingest``: run the MQTT bridge (telemetry/mqtt_bridge.py) until SIGTERM or Ctrl-C."""

import signal

from django.core.management.base import BaseCommand

from telemetry.mqtt_bridge import MqttBridge


class Command(BaseCommand):
    help = (
        "Subscribe to the telemetry topic (MQTT_TOPIC on MQTT_URL) and write every reading published there, "
        "acknowledging each message only after its readings are committed. Stops cleanly on SIGTERM/Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--summary-every",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="How often to log the one-line summary of counters (default 60).",
        )

    def handle(self, *args, summary_every, **options):
        bridge = MqttBridge(summary_every_s=summary_every)

        def stop(signum, frame):
            bridge.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        bridge.run()
