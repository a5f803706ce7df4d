"""Write the integrators' Postman collection and environment, generated from the OpenAPI schema."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from config.postman import collection, default_base_url, environment, published_schema


class Command(BaseCommand):
    help = (
        "Writes the Postman collection (v2.1) of every API operation and its environment, generated from the "
        "OpenAPI schema; the same files GET /api/v1/postman.json and /api/v1/postman-environment.json serve."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output-dir", default=".", help="Directory to write the two files to (default: here).")
        parser.add_argument(
            "--base-url",
            default=None,
            help="The environment's baseUrl (default: the first of API_SERVERS, else local).",
        )

    def handle(self, *args, output_dir, base_url, **options):
        directory = Path(output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "esp-platform-postman.json": collection(published_schema()),
            "esp-platform-postman-environment.json": environment(base_url or default_base_url()),
        }
        for name, document in files.items():
            (directory / name).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"Wrote {directory / name}")
