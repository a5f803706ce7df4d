# The two commands a newcomer needs: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test test-timescaledb coverage fuzz bench faults load diagnostics-eval venv services database lint chromium prometheus

# The virtualenv is rebuilt only when the pinned requirements change.
$(INSTALLED): requirements/base.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

venv: $(INSTALLED)

services:
	bash scripts/ensure_services.sh

# `make run`: the whole platform with demo data on this machine's services, until Ctrl-C. Where PostgreSQL or
# Redis is not installed, embedded ones from PyPI take their place (operations/embedded.py, data in
# .embedded/, one line says which); `make run SERVICES=embedded` embeds both even where they are installed.
run: export DEBUG ?= true
run: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
run: export SERVICES ?= auto
run: venv services
	$(PY) -m operations.embedded -- $(MAKE) --no-print-directory run-platform

# The platform on the services `make run` chose (operations.embedded passes their addresses in).
.PHONY: run-platform
run-platform:
	$(PY) manage.py ensure_database
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	# A week of history, so each well has the baseline its diagnostics judge it against (a few seconds;
	# readings already stored are skipped).
	$(PY) manage.py simulate --backfill-days 7
	$(PY) manage.py runplatform

# `make test`: lint, Django's checks, migrations and API schema up to date, then the test suite
# against the real PostgreSQL and Redis. Tests use their own database (test_<name>) and Redis db 15.
test: export DEBUG := false
test: export SECRET_KEY ?= test-only-secret-key-not-for-any-deployment-0123456789
test: export ALLOWED_HOSTS ?= testserver,localhost,127.0.0.1
test: export SECURE_SSL_REDIRECT := false
test: export REDIS_URL ?= redis://127.0.0.1:6379/15
test: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
test: export WHITENOISE_USE_FINDERS := true
test: venv services chromium prometheus
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# The database first: the checks compare what it has deployed with the code (analytics.checks), and
	# a pooled connection to a database that does not exist yet would wait out the pool's timeout.
	$(PY) manage.py ensure_database
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# `make coverage`: `make test` measuring line coverage of the apps (pytest-cov; what is measured is set in
# pyproject.toml's [tool.coverage]), with a per-file report of the lines no test runs.
coverage:
	$(MAKE) test PYTEST_ARGS="--cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)"

# `make fuzz`: the API fuzz tests (tests/fuzz) with many more generated requests per operation than
# `make test` runs (FUZZ_EXAMPLES, default 100; still seeded, so a run repeats), then the hostile-input corpus.
fuzz: export FUZZ_EXAMPLES ?= 100
fuzz: export DEBUG := false
fuzz: export SECRET_KEY ?= test-only-secret-key-not-for-any-deployment-0123456789
fuzz: export ALLOWED_HOSTS ?= testserver,localhost,127.0.0.1
fuzz: export SECURE_SSL_REDIRECT := false
fuzz: export REDIS_URL ?= redis://127.0.0.1:6379/15
fuzz: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
fuzz: export WHITENOISE_USE_FINDERS := true
fuzz: venv services
	$(PY) manage.py ensure_database
	$(VENV)/bin/pytest tests/fuzz tests/hostile -p no:cacheprovider $(PYTEST_ARGS)

# `make test-timescaledb`: `make test` against a TimescaleDB server the operator provides (nothing here
# builds or installs it): TIMESCALEDB_URL names a database on it (the tests use test_<name> beside it).
# TIMESERIES_BACKEND=timescaledb makes the migrations fail where the extension is not preloaded, and makes
# any skipped test marked timescaledb a failure (tests/conftest.py).
TIMESCALEDB_URL ?= postgres://postgres@127.0.0.1:5433/esp
test-timescaledb:
	DATABASE_URL=$(TIMESCALEDB_URL) TIMESERIES_BACKEND=timescaledb $(MAKE) --no-print-directory test

# `make bench`: the speed targets, as ratios against a baseline measured in the same run.
# One file alone: make bench BENCH=tests/benchmarks/ingest.py
bench: BENCH ?= tests/benchmarks
bench: export DEBUG := false
bench: export SECRET_KEY ?= bench-only-secret-key-not-for-any-deployment-0123456789
bench: export ALLOWED_HOSTS ?= testserver,localhost,127.0.0.1
bench: export SECURE_SSL_REDIRECT := false
bench: export REDIS_URL ?= redis://127.0.0.1:6379/14
bench: export WHITENOISE_USE_FINDERS := true
bench: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/esp_bench
# Benchmarks time the platform, not its rate limits: one client here makes thousands of requests a minute.
bench: export API_RATE_READ_PER_USER ?= 1000000
bench: export API_RATE_READ_PER_IP ?= 1000000
bench: export API_RATE_WRITE_PER_USER ?= 1000000
bench: export API_RATE_WRITE_PER_IP ?= 1000000
bench: export API_RATE_INGEST_PER_USER ?= 1000000
bench: export API_RATE_INGEST_PER_IP ?= 1000000
bench: venv services
	$(VENV)/bin/pytest $(BENCH) -p no:cacheprovider -s -o addopts="" -o python_files="*.py" $(PYTEST_ARGS)

# `make faults`: every fault test (tests/faults), the long ones too (a 30 s database outage, a worker killed
# outright, the whole scale-out run; `make test` runs only the quick ones). Each runs its own PostgreSQL
# cluster, Redis and Mosquitto on loopback (ports from TEST_PORTS=first-last when set) and prints its outcome,
# also kept in build/faults/outcomes.jsonl.
faults: export DEBUG := false
faults: export SECRET_KEY ?= test-only-secret-key-not-for-any-deployment-0123456789
faults: export ALLOWED_HOSTS ?= testserver,localhost,127.0.0.1
faults: export SECURE_SSL_REDIRECT := false
faults: export REDIS_URL ?= redis://127.0.0.1:6379/15
faults: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
faults: export WHITENOISE_USE_FINDERS := true
faults: venv services
	$(VENV)/bin/pytest tests/faults -m "" -s -p no:cacheprovider $(PYTEST_ARGS)

# `make load`: the platform under 2,000 wells' telemetry, 20 dashboard users and 5 integrators for
# LOAD_DURATION seconds (default 600; LOAD_DURATION=60 for a smoke run), on a PostgreSQL, Redis and Mosquitto
# of its own on loopback. Prints the report and keeps it in build/load/. LOAD_ARGS=--scale-out: two of each.
load: LOAD_DURATION ?= 600
load: export DEBUG := false
load: export SECRET_KEY ?= load-only-secret-key-not-for-any-deployment-0123456789
load: export ALLOWED_HOSTS ?= testserver,localhost,127.0.0.1
load: export SECURE_SSL_REDIRECT := false
load: export ANALYTICS_TIMEZONE ?= Asia/Riyadh
load: export WHITENOISE_USE_FINDERS := true
load: venv
	$(PY) -m tests.load.run --duration $(LOAD_DURATION) $(LOAD_ARGS)

# `make diagnostics-eval`: the detection scenario suite, simulated faults and healthy wells through the
# diagnostics rules (no database). Prints the table kept in the README; fails when a target is missed.
diagnostics-eval:
	$(MAKE) bench BENCH=tests/benchmarks/diagnostics_eval.py

# Debian's Chromium for the browser tests (tests/browser): Playwright drives /usr/bin/chromium by path,
# so nothing downloads a browser (never `playwright install`).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# Debian's Prometheus and Alertmanager for the monitoring tests (tests/operations): promtool checks and
# unit-tests docker/prometheus/, amtool checks docker/alertmanager/, and one test scrapes the app with a
# real Prometheus. Installed only when missing; the packages' services are not used.
prometheus:
	command -v promtool >/dev/null && command -v amtool >/dev/null || (apt-get update && apt-get install -y --no-install-recommends prometheus prometheus-alertmanager)

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
