"""``manage.py timeseries_status``: which storage holds the readings and what state it is in."""

from django.core.management.base import BaseCommand

from telemetry.storage import POSTGRES, TIMESCALEDB, storage_status


def _size(total_bytes):
    return f"{total_bytes / 1024 / 1024:,.1f} MiB"


class Command(BaseCommand):
    help = "Print the time-series backend, its partitions or chunks, compression and retention state."

    def handle(self, *args, **options):
        status = storage_status()
        kind = status["backend"]
        say = self.stdout.write
        if kind is None:
            say("Readings table not found: run `manage.py migrate` first.")
            return
        version = f" {status['version']}" if kind == TIMESCALEDB else ""
        say(f"Backend: {kind}{version} (TIMESERIES_BACKEND={status['configured']}, chosen at migrate time)")
        if kind == POSTGRES:
            say("Table: telemetry_reading, range-partitioned by UTC day")
            if status["partitions"]:
                say(
                    f"Partitions: {status['partitions']} daily, {status['first_day']} to {status['last_day']}"
                    f" ({_size(status['total_bytes'])})"
                )
            else:
                say("Partitions: none yet")
            say("Compression: none (plain PostgreSQL has no native compression)")
            say(
                f"Retention: {status['retention_days']} days; partitions past it are dropped by the hourly"
                " telemetry.tasks.maintain_storage beat task"
            )
            return
        say(f"Table: telemetry_reading, hypertable, chunk interval {_interval(status['chunk_interval'])}")
        if status["chunks"]:
            say(
                f"Chunks: {status['chunks']}, {status['first_chunk_start']:%Y-%m-%d %H:%M} to"
                f" {status['last_chunk_end']:%Y-%m-%d %H:%M} UTC, {status['compressed_chunks']} compressed"
                f" ({_size(status['total_bytes'])})"
            )
        else:
            say("Chunks: none yet")
        jobs = {job["proc_name"]: job for job in status["jobs"] if job["relation"] == "telemetry_reading"}
        compression = jobs.get("policy_compression")
        say(
            f"Compression: segment by {status['segmentby']}, order by {status['orderby']}; "
            + (_job_text(compression, "compress chunks older than") if compression else "no policy")
        )
        retention = jobs.get("policy_retention")
        say("Retention: " + (_job_text(retention, "drop chunks older than") if retention else "no policy"))
        say("Policy jobs (run by TimescaleDB's scheduler and by the platform's beat tasks):")
        for job in status["jobs"]:
            say(f"  {_job_line(job)}")


def _interval(value):
    if hasattr(value, "days") and not value.seconds and not value.microseconds:
        return f"{value.days} day" + ("s" if value.days != 1 else "")
    return str(value)


def _job_text(job, action):
    return f"{action} {job['older_than']} (policy job {job['job_id']})"


def _job_line(job):
    """One policy job: what it acts on, how often, and its last run by whoever ran it last."""
    age = f" older than {job['older_than']}" if job["older_than"] else ""
    line = f"{job['job_id']} {job['proc_name']} on {job['relation'] or 'the job history'}{age}, every "
    line += f"{_interval(job['schedule_interval'])}: "
    if job["last_run_status"] is None:
        return line + "never run"
    line += f"last run {job['last_run_status']} at {_moment(job['last_run_at'])} by the {job['last_run_by']}"
    if job["last_error"]:
        line += f": {job['last_error']}"
    if job["last_run_by"] == "platform" and job["scheduler_status"] == "Failed":
        line += f"; the scheduler's last run failed: {job['scheduler_error']}"
    if job["last_run_by"] == "scheduler" and job["platform_status"]:
        line += f"; the platform's last run: {job['platform_status']} at {_moment(job['platform_run_at'])}"
    return line


def _moment(value):
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"
