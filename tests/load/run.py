"""``make load``: the platform under a field's worth of traffic, on loopback, for a bounded time.

2,000 simulated wells send one reading each per 10 s — the first half as 50 RTU gateways posting a
20-reading batch each to POST /api/v1/telemetry/batch, the second half as one MQTT connection per well
publishing QoS 1 — while 20 dashboard users sign in and browse (fleet, well pages and their charts,
alarms) and 5 integrators pull analytics over the API with a JWT. The platform is the real one, each
piece a process of its own: gunicorn with config/gunicorn.py, a Celery worker and beat, and the MQTT
bridge, on a PostgreSQL cluster, a Redis and a Mosquitto (the shipped configuration) that the run starts
itself (tests/faults/stack.py) and removes at the end. ``--scale-out``: two web instances behind one
loopback address, two workers and two bridges on a shared subscription.

At the end the devices stop, the bridge drains, and the report gives latency percentiles by endpoint,
errors, readings acknowledged against readings stored (counted in the database), how far the rollups
and diagnostics lag, and CPU and memory per process. It is printed and written to build/load/.

    make load                      # 10 minutes
    make load LOAD_DURATION=60     # a one-minute smoke run
    make load LOAD_ARGS=--scale-out
"""

import argparse
import collections
import contextlib
import datetime
import json
import os
import random
import re
import sys
import threading
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import psutil  # noqa: E402
import requests  # noqa: E402

from tests.factories import TEST_PASSWORD  # noqa: E402
from tests.faults.clients import Answers, HttpGateway, MqttFleet  # noqa: E402
from tests.faults.proxy import RoundRobinProxy  # noqa: E402
from tests.faults.stack import Cluster, Stack, messages_taken, sign_in, wait_for, well_ids  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
REPORT_DIR = PROJECT / "build" / "load"
WELLS = 2_000
GATEWAY_WELLS = 20  # wells per HTTP gateway
INTERVAL_S = 10.0  # one reading per well this often
DASHBOARD_USERS = 20
INTEGRATORS = 5
THINK_S = (2.0, 8.0)  # a person's pause between two pages or API calls
ARRIVAL_S = 60.0  # people sign in at random moments over the first minute, not all at once
SAMPLE_EVERY_S = 5.0
DRAIN_DEADLINE_S = 300
GATEWAY_USER = "load_gateway"


class WallClock:
    """Readings stamped with the current second, as a device would."""

    @staticmethod
    def next():
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed_get(session, answers, endpoint, url, stopping, **options):
    started = time.monotonic()
    try:
        response = session.get(url, timeout=60, **options)
        outcome = response.status_code
    except requests.RequestException as error:
        response, outcome = None, type(error).__name__
    if not stopping.is_set():
        answers.add(endpoint, started, outcome)
    return response


class DashboardUser(threading.Thread):
    """A manager or engineer in a browser: signs in through /login, then browses with pauses."""

    def __init__(self, base, username, wells, answers, stopping):
        super().__init__(daemon=True)
        self.base, self.username, self.wells, self.answers, self.stopping = base, username, wells, answers, stopping
        self.session = requests.Session()
        self.session.trust_env = False

    def sign_in(self):
        started = time.monotonic()
        page = self.session.get(f"{self.base}/login", timeout=60)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = self.session.post(
            f"{self.base}/login",
            data={"username": self.username, "password": TEST_PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.base}/login"},
            allow_redirects=False,
            timeout=60,
        )
        self.answers.add("POST /login (session sign-in)", started, response.status_code)
        assert response.status_code == 302, f"{self.username} could not sign in: {response.status_code}"

    def run(self):
        if self.stopping.wait(random.uniform(0, ARRIVAL_S)):
            return
        try:
            self.sign_in()
        except (AssertionError, AttributeError, requests.RequestException) as error:
            self.answers.add("POST /login (session sign-in)", time.monotonic(), type(error).__name__)
            return
        pages = [
            ("GET / (fleet)", lambda: "/"),
            ("GET /wells/<id>/", lambda: f"/wells/{random.choice(self.wells)}/"),
            ("GET /wells/<id>/charts.json", lambda: f"/wells/{random.choice(self.wells)}/charts.json"),
            ("GET /alarms/", lambda: "/alarms/"),
        ]
        while not self.stopping.wait(random.uniform(*THINK_S)):
            endpoint, path = random.choice(pages)
            timed_get(self.session, self.answers, endpoint, f"{self.base}{path()}", self.stopping)


class Integrator(threading.Thread):
    """A data team's script: a JWT, then analytics reads with pauses."""

    def __init__(self, base, username, wells, answers, stopping):
        super().__init__(daemon=True)
        self.base, self.username, self.wells, self.answers, self.stopping = base, username, wells, answers, stopping
        self.session = requests.Session()
        self.session.trust_env = False

    def run(self):
        if self.stopping.wait(random.uniform(0, ARRIVAL_S)):
            return
        self.session.headers["Authorization"] = f"Bearer {sign_in(self.base, self.username)}"
        paths = [
            "/api/v1/analytics/overview",
            "/api/v1/analytics/telemetry/hourly/<id>",
            "/api/v1/analytics/performance/<id>",
            "/api/v1/analytics/diagnostics/<id>",
            "/api/v1/analytics/ranking/efficiency",
        ]
        while not self.stopping.wait(random.uniform(*THINK_S)):
            path = random.choice(paths)
            url = f"{self.base}{path.replace('<id>', random.choice(self.wells))}"
            response = timed_get(self.session, self.answers, f"GET {path}", url, self.stopping)
            if response is not None and response.status_code == 401:  # the access token expired
                self.session.headers["Authorization"] = f"Bearer {sign_in(self.base, self.username)}"


class ProcessSampler(threading.Thread):
    """CPU (% of one core) and resident memory of each process, with its children, every few seconds."""

    def __init__(self, processes):
        super().__init__(daemon=True)
        self.processes = processes  # name -> callable returning the root psutil.Process (or None)
        self.cpu = collections.defaultdict(list)
        self.rss = collections.defaultdict(list)
        self._handles = {}
        self.stopping = threading.Event()

    def _tree(self, root):
        if root is None:
            return []
        with contextlib.suppress(psutil.Error):
            return [root, *root.children(recursive=True)]
        return []

    def sample(self):
        for name, root in self.processes.items():
            cpu = rss = 0.0
            for process in self._tree(root()):
                handle = self._handles.setdefault(process.pid, process)
                with contextlib.suppress(psutil.Error):
                    cpu += handle.cpu_percent()
                    rss += handle.memory_info().rss
            self.cpu[name].append(cpu)
            self.rss[name].append(rss / 2**20)

    def run(self):
        self.sample()  # primes cpu_percent
        while not self.stopping.wait(SAMPLE_EVERY_S):
            self.sample()

    def summary(self):
        return {
            name: {
                "cpu_avg_pct": round(sum(self.cpu[name][1:]) / max(1, len(self.cpu[name]) - 1), 1),
                "cpu_max_pct": round(max(self.cpu[name][1:], default=0.0), 1),
                "rss_max_mib": round(max(self.rss[name], default=0.0), 1),
            }
            for name in self.processes
        }


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def latency_table(answers, success):
    by_endpoint = collections.defaultdict(list)
    for answer in answers.items:
        by_endpoint[answer.endpoint].append(answer)
    rows = {}
    for endpoint, items in sorted(by_endpoint.items()):
        times = sorted(a.seconds * 1000 for a in items)
        errors = collections.Counter(a.outcome for a in items if a.outcome not in success)
        rows[endpoint] = {
            "count": len(items),
            "errors": sum(errors.values()),
            "error_outcomes": dict(errors),
            **{f"p{int(q * 100)}_ms": round(percentile(times, q), 1) for q in (0.5, 0.95, 0.99)},
        }
    return rows


TASK_DONE = re.compile(r"^(\S+ \S+) INFO celery.app.trace: Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s", re.M)


def task_runs(workers):
    """{task: [(finished at, seconds)]} from the workers' logs."""
    runs = collections.defaultdict(list)
    for worker in workers:
        for at, name, seconds in TASK_DONE.findall(worker.log(None)):
            finished = datetime.datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f")
            runs[name].append((finished, float(seconds)))
    return {name: sorted(items) for name, items in runs.items()}


def lag_summary(runs, name, started):
    """How stale that task's result can get: runs, runtimes, and the longest time between two completions
    (the first measured from the start of the run), which is the worst lag of a reading that arrived just
    after a completion."""
    items = runs.get(name, [])
    finished = [started, *(at for at, _ in items)]
    gaps = [(b - a).total_seconds() for a, b in zip(finished, finished[1:], strict=False)]
    seconds = sorted(round(s, 2) for _, s in items)
    return {
        "runs": len(items),
        "runtime_p50_s": percentile(seconds, 0.5),
        "runtime_max_s": seconds[-1] if seconds else None,
        "max_time_between_completions_s": round(max(gaps), 1) if gaps else None,
    }


def write_report(report):
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = report["started_utc"].replace(":", "").replace("-", "")
    (REPORT_DIR / f"load-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    lines = [
        f"# Load test, {report['started_utc']} UTC, {report['duration_s']} s"
        f"{' (scale-out)' if report['scale_out'] else ''}",
        "",
        f"Machine: {report['machine']['cores']} cores, load average {report['machine']['load_before']} before, "
        f"{report['machine']['load_after']} after (other work on the machine counts in these figures).",
        f"Offered: {WELLS} wells at one reading per {INTERVAL_S:.0f} s ({WELLS / INTERVAL_S:.0f} readings/s), "
        f"{report['http_wells']} over HTTP in {report['gateways']} gateways, {report['mqtt_wells']} over MQTT; "
        f"{DASHBOARD_USERS} dashboard users, {INTEGRATORS} integrators.",
        "",
        "| endpoint | requests | errors | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint, row in report["latency"].items():
        lines.append(
            f"| {endpoint} | {row['count']} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |"
        )
    r = report["readings"]
    lines += [
        "",
        f"Readings: {r['acknowledged']} acknowledged ({r['acknowledged_http']} HTTP, {r['acknowledged_mqtt']} MQTT), "
        f"{r['stored']} stored, {r['duplicates']} duplicates, {r['acknowledged_not_stored']} acknowledged but not "
        f"stored, {r['stored_not_acknowledged']} stored but not acknowledged; drained "
        f"{r['drain_s']} s after the devices stopped.",
        "",
        "| background task | runs | runtime p50 s | runtime max s | longest between completions s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in report["tasks"].items():
        lines.append(
            f"| {name} | {row['runs']} | {row['runtime_p50_s']} | {row['runtime_max_s']} | "
            f"{row['max_time_between_completions_s']} |"
        )
    lines += ["", "| process | CPU avg % | CPU max % | RSS max MiB |", "|---|---:|---:|---:|"]
    for name, row in report["processes"].items():
        lines.append(f"| {name} | {row['cpu_avg_pct']} | {row['cpu_max_pct']} | {row['rss_max_mib']} |")
    if report.get("split"):
        lines += ["", f"Scale-out split: {json.dumps(report['split'])}"]
    text = "\n".join(lines) + "\n"
    (REPORT_DIR / f"load-{stamp}.md").write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=float(os.environ.get("LOAD_DURATION", 600)))
    parser.add_argument("--scale-out", action="store_true", help="two of each: web, worker, bridge")
    options = parser.parse_args(argv)

    all_wells = well_ids(WELLS)
    http_wells, mqtt_wells = all_wells[: WELLS // 2], all_wells[WELLS // 2 :]
    dashboards = [f"dashboard_{n:02d}" for n in range(1, DASHBOARD_USERS + 1)]
    integrators = [f"integrator_{n}" for n in range(1, INTEGRATORS + 1)]
    users = [(GATEWAY_USER, "operator"), *((name, "viewer") for name in dashboards + integrators)]

    print(f"load: preparing a cluster with {WELLS} wells, Redis, Mosquitto and the platform…", flush=True)
    cluster = Cluster(WELLS, users)
    stack = Stack(cluster, mqtt_users=mqtt_wells)
    stopping = threading.Event()
    proxy = None
    try:
        copies = 2 if options.scale_out else 1
        group = {"MQTT_SHARED_GROUP": "esp-ingest"} if options.scale_out else {}
        # Loopback has no TLS: cookies marked Secure would never come back, so the browsers' sessions could not
        # sign in. Everything else is as deployed.
        plain_http = {"SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}
        webs = [stack.web(f"web-{n}", access_log=options.scale_out, **plain_http) for n in range(1, copies + 1)]
        workers = [stack.worker(f"worker-{n}") for n in range(1, copies + 1)]
        stack.beat()
        bridges = [stack.bridge(f"bridge-{n}", client_id=f"esp-ingest-{n}", **group) for n in range(1, copies + 1)]
        if options.scale_out:
            proxy = RoundRobinProxy([web.address for web in webs]).start()
        base = proxy.base if proxy else webs[0].base

        sampler = ProcessSampler(
            {
                **{p.name: (lambda p=p: psutil.Process(p.process.pid)) for p in stack.processes},
                "postgresql": lambda: psutil.Process(int((cluster.data / "postmaster.pid").read_text().split()[0])),
                "redis": lambda: psutil.Process(stack.redis.process.pid),
                "mosquitto": lambda: psutil.Process(stack.broker.process.pid),
                "load generator (this process)": lambda: psutil.Process(os.getpid()),
            }
        )
        answers = Answers()
        token = sign_in(base, GATEWAY_USER)
        gateways = [
            HttpGateway(base, token, http_wells[n : n + GATEWAY_WELLS], WallClock, answers, INTERVAL_S, retry_s=1)
            for n in range(0, len(http_wells), GATEWAY_WELLS)
        ]
        fleet = MqttFleet(stack.broker, mqtt_wells, WallClock, answers, INTERVAL_S)
        people = [DashboardUser(base, name, all_wells, answers, stopping) for name in dashboards]
        people += [Integrator(base, name, all_wells, answers, stopping) for name in integrators]

        load_before = [round(x, 2) for x in os.getloadavg()]
        started_utc = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        print(
            f"load: connecting {len(mqtt_wells)} MQTT devices, then running for {options.duration:.0f} s…", flush=True
        )
        fleet.start_and_connect()
        sampler.start()
        for index, gateway in enumerate(gateways):  # spread over the interval, as unsynchronised RTUs are
            gateway.stopping.wait(INTERVAL_S / len(gateways) if index else 0)
            gateway.start()
        for person in people:
            person.start()
        started = time.monotonic()
        while (left := started + options.duration - time.monotonic()) > 0:
            stopping.wait(min(60.0, left))
            stored = stack.readings()[0]
            print(f"load: {time.monotonic() - started:5.0f} s, {stored} readings stored", flush=True)

        stopping.set()
        for gateway in gateways:
            gateway.stopping.set()
        for gateway in gateways:
            gateway.stop()
        fleet.stop()
        for person in people:
            person.join(120)
        acknowledged_http = set().union(*(g.acknowledged for g in gateways))
        acknowledged_mqtt = fleet.acknowledged()
        acknowledged = acknowledged_http | acknowledged_mqtt
        drain_started = time.monotonic()
        wait_for(
            lambda: stack.readings()[0] >= len(acknowledged),
            lambda: f"{stack.readings()} stored of {len(acknowledged)}:\n{stack.logs()}",
            DRAIN_DEADLINE_S,
        )
        drain_s = round(time.monotonic() - drain_started, 1)
        sampler.stopping.set()
        sampler.join(30)
        rows, distinct = stack.readings()
        stored = stack.stored_keys()
        if options.scale_out:
            for bridge in bridges:
                bridge.stop()  # each logs its final counters
        report = {
            "started_utc": started_utc.isoformat().replace("+00:00", ""),
            "duration_s": round(options.duration),
            "scale_out": options.scale_out,
            "machine": {
                "cores": os.cpu_count(),
                "load_before": load_before,
                "load_after": [round(x, 2) for x in os.getloadavg()],
            },
            "http_wells": len(http_wells),
            "mqtt_wells": len(mqtt_wells),
            "gateways": len(gateways),
            "latency": latency_table(answers, success={"200", "201", "302", "PUBACK"}),
            "readings": {
                "acknowledged": len(acknowledged),
                "acknowledged_http": len(acknowledged_http),
                "acknowledged_mqtt": len(acknowledged_mqtt),
                "stored": rows,
                "duplicates": rows - distinct,
                "acknowledged_not_stored": len(acknowledged - stored),
                "stored_not_acknowledged": len(stored - acknowledged),
                "mqtt_connection_errors": len(fleet.errors()),
                "drain_s": drain_s,
            },
            "tasks": {
                name: lag_summary(task_runs(workers), name, started_utc.replace(tzinfo=None))
                for name in ("analytics.refresh_rollups", "analytics.run_diagnostics")
            },
            "processes": sampler.summary(),
        }
        if options.scale_out:
            report["split"] = {
                "http_requests_per_web": {
                    web.name: len(re.findall(r'" (?:200|201|302) ', web.log(None))) for web in webs
                },
                "mqtt_messages_per_bridge": {bridge.name: messages_taken(bridge) for bridge in bridges},
                "tasks_per_worker": {worker.name: worker.log(None).count("] succeeded") for worker in workers},
            }
        print(write_report(report), flush=True)
        logs = REPORT_DIR / f"logs-{report['started_utc'].replace(':', '').replace('-', '')}"
        logs.mkdir(parents=True, exist_ok=True)
        for process in stack.processes:
            (logs / process.log_path.name).write_text(process.log(None))
        print(f"load: the processes' logs are in {logs.relative_to(PROJECT)}/", flush=True)
        failed = report["readings"]["acknowledged_not_stored"] or report["readings"]["duplicates"]
        return 1 if failed else 0
    finally:
        stopping.set()
        if proxy:
            proxy.stop()
        stack.close()
        cluster.remove()


if __name__ == "__main__":
    sys.exit(main())
