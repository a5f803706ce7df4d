"""Django settings for the ESP surveillance platform.

Every deploy-time value comes from the environment (see ``.env.example``); secrets have no default
outside DEBUG, and a bad value stops start-up naming the variable (``config.env``).
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

DEBUG = env_bool("DEBUG", False)

# A development key is only acceptable while DEBUG is on; production must bring its own, as strong as
# Django's deployment check asks (security.W009), so start-up refuses what that check would only warn of.
SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG) or "django-insecure-development-only-key"
if not DEBUG:
    from django.core.checks.security import base as django_security

    if (
        len(SECRET_KEY) < django_security.SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < django_security.SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or SECRET_KEY.startswith(django_security.SECRET_KEY_INSECURE_PREFIX)
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY must be at least {django_security.SECRET_KEY_MIN_LENGTH} characters long outside DEBUG, "
            f"with at least {django_security.SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters and not "
            f"starting with {django_security.SECRET_KEY_INSECURE_PREFIX!r}; generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(48))"`.'
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this server answers to outside DEBUG.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "django_prometheus",
    "accounts",
    "wells",
    "telemetry",
    "analytics",
    "alarms",
    "operations",
    "dashboards",
]

MIDDLEWARE = [
    # Request count and latency by view (django-prometheus): first and last, so they time all the others.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # A request id for every request (X-Request-ID in and out) and one log line per request, before the
    # rest runs, so that every other middleware's log lines carry the id.
    "config.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every HTML page: no inline script anywhere (config/csp.py).
    "config.csp.ContentSecurityPolicyMiddleware",
    # A database outage answers 503 JSON with Retry-After, API and admin alike (config/middleware.py).
    "config.middleware.DatabaseUnavailableMiddleware",
    # NUL in the URL path or a query parameter is a 400 naming it, before a view sends it to PostgreSQL.
    "config.middleware.UrlTextGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Lets the audit trail name the caller, IP and user agent of account changes made deep in signals.
    "accounts.audit.AuditRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Storage -------------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/esp_platform", schemes=("postgres", "postgresql")
)
# Each process (gunicorn worker, Celery worker, MQTT bridge) keeps a psycopg pool of connections: a request
# borrows one and returns it, so none pays for connecting. One per thread is enough (gunicorn runs 4
# threads a worker); processes × DB_POOL_MAX_SIZE must stay under PostgreSQL's max_connections.
# DB_POOL_MAX_SIZE=0 turns the pool off (e.g. behind PgBouncer); connections then live DB_CONN_MAX_AGE s.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 4, minimum=0)
if DB_POOL_MAX_SIZE:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": min(env_int("DB_POOL_MIN_SIZE", 1, minimum=0), DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            # A request that finds every connection busy waits this long, then fails (a 503).
            "timeout": env_int("DB_POOL_TIMEOUT_SECONDS", 10, minimum=1),
        }
    }
else:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# No JIT: the platform's queries are short, and PostgreSQL's cost estimates over many partitions
# made it JIT-compile reads that then took 300 ms instead of 3 (tests/benchmarks/analytics.py).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# Django's cursors bind parameters client-side and are never prepared; this only lets code that asks for
# it on a server-binding cursor (``prepare=True``, accounts.authentication) keep a prepared statement.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1

# Which time-series storage the telemetry migrations build: TimescaleDB hypertables and continuous
# aggregates, or plain PostgreSQL partitions and rollup tables. "auto" uses TimescaleDB when the
# server can load it.
TIMESERIES_BACKEND = env_choice("TIMESERIES_BACKEND", "auto", ("auto", "timescaledb", "postgres"))

# Telemetry storage and ingestion (telemetry/storage, telemetry/ingest.py). Raw readings older than the
# retention window are dropped (whole partitions or chunks) and refused at ingest; TimescaleDB compresses
# chunks older than TELEMETRY_COMPRESS_AFTER_DAYS. One batch holds at most TELEMETRY_BATCH_MAX readings
# in at most TELEMETRY_BATCH_MAX_BYTES of JSON (about 330 bytes a reading, so 10 MiB leaves room).
TELEMETRY_RETENTION_DAYS = env_int("TELEMETRY_RETENTION_DAYS", 365, minimum=2)
TELEMETRY_COMPRESS_AFTER_DAYS = env_int("TELEMETRY_COMPRESS_AFTER_DAYS", 7, minimum=1)
TELEMETRY_BATCH_MAX = env_int("TELEMETRY_BATCH_MAX", 10_000, minimum=1)
TELEMETRY_BATCH_MAX_BYTES = env_int("TELEMETRY_BATCH_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# Django refuses to read bigger request bodies; it must let a full telemetry batch through. The ingest
# views answer 413 themselves before reading anything larger than their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, TELEMETRY_BATCH_MAX_BYTES)

# Rollups outlive raw readings: hourly rows for two years, daily rows forever (0 = keep forever).
ROLLUP_HOURLY_RETENTION_DAYS = env_int("ROLLUP_HOURLY_RETENTION_DAYS", 730, minimum=1)
ROLLUP_DAILY_RETENTION_DAYS = env_int("ROLLUP_DAILY_RETENTION_DAYS", 0, minimum=0)

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "esp"),
        # Short timeouts: a refused or frozen Redis must cost a request milliseconds, not seconds
        # (the sign-in throttle, the only request-path user, then counts in process memory).
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Identity ------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time ----------------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
# The local day that daily rollups are cut on: a field in Saudi Arabia wants its day to end at
# midnight Riyadh time, not at 03:00 local as a UTC day would.
ANALYTICS_TIMEZONE = env_timezone("ANALYTICS_TIMEZONE", TIME_ZONE)
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Static files (served by WhiteNoise; nothing is loaded from a CDN) ---------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run (development, tests).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

# --- HTTPS and cookies ---------------------------------------------------------------------------
# Production sits behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /health answers load balancers over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's checks plus logout (Redis denylist) and revocation (per-user token epoch).
        "accounts.authentication.PlatformJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    # DRF's JSON parser with too-deep nesting answered 400 instead of 500 (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # One error body for every 4xx/5xx of the API (config/errors.py).
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per signed-in user and per client IP, by scope (API_RATE_LIMITS below; accounts/rate_limits.py).
    "DEFAULT_THROTTLE_CLASSES": ["accounts.rate_limits.PerUserRateLimit", "accounts.rate_limits.PerIpRateLimit"],
}

# API rate limits, requests per minute (fixed one-minute windows, counted in Redis; 429 with Retry-After
# past them). Reads and writes per user are far above what a person or a polling integration sends;
# ingest is sized for device fleets: one token may carry 2,000 devices each posting every 10 s (200
# requests/s), so a device posting a batch every few seconds never meets it. Per IP: twice the per-user
# figure, for several users behind one address (a site's NAT, a SCADA gateway).
API_RATE_LIMITS = {
    "read": {
        "user": env_int("API_RATE_READ_PER_USER", 600, minimum=1),
        "ip": env_int("API_RATE_READ_PER_IP", 1_200, minimum=1),
    },
    "write": {
        "user": env_int("API_RATE_WRITE_PER_USER", 120, minimum=1),
        "ip": env_int("API_RATE_WRITE_PER_IP", 240, minimum=1),
    },
    "ingest": {
        "user": env_int("API_RATE_INGEST_PER_USER", 12_000, minimum=1),
        "ip": env_int("API_RATE_INGEST_PER_IP", 24_000, minimum=1),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Sign-in brute-force protection (policy in accounts/throttling.py): refused sign-ins are counted in
# fixed windows; a username or an IP that reaches its limit is locked until its window ends.
# Policy rather than deployment values, so not read from the environment.
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
LOGIN_MAX_FAILURES_PER_USERNAME = 5
LOGIN_MAX_FAILURES_PER_IP = 20
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: the caller is REMOTE_ADDR.
# Sign-in throttling and the audit log use it to tell callers apart; set it to 1 behind one proxy.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Sign-in and change audit events older than this are deleted daily (accounts.changes.prune).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 400, minimum=30)

# Base URLs the API is served at: the OpenAPI schema's servers and the Postman environment's baseUrl.
API_SERVERS = env_list("API_SERVERS", [])

# Whether the OpenAPI schema (/api/v1/openapi.yaml|json) and its docs pages (/api/v1/docs, /api/v1/redoc)
# are open to anyone (the default: they say nothing a client can't learn by calling the API) or only to
# signed-in users with a role.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", True)

SPECTACULAR_SETTINGS = {
    "TITLE": "ESP Surveillance Platform API",
    "DESCRIPTION": (
        "Telemetry ingestion, analytics and diagnostics for electric submersible pumps. "
        "Every endpoint except /health needs a Bearer token from POST /api/v1/auth/login. "
        "Every error answer has one body: `type`, `detail` and `errors` (see the Error schema).\n\n"
        "Integrators' kit: the [Postman collection](/api/v1/postman.json) of every operation and its "
        "[environment](/api/v1/postman-environment.json) (base URL, sign-in credentials, tokens)."
    ),
    "VERSION": VERSION,
    "SERVERS": [{"url": url} for url in API_SERVERS],
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The error answers (400/401/403/404/429) and their body, documented in one place (config/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.schema.document_errors"],
    # Diagnostic types, severities and alarm states appear under several field names (alarm_type,
    # peak_severity, from_state…): one named enum each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "DiagnosticTypeEnum": "analytics.models.DiagnosticType",
        "SeverityEnum": "analytics.models.Severity",
        "AlarmStateEnum": "alarms.models.AlarmState",
        # The kinds of alarm event that notify (event_kind, preferences' kinds lists).
        "NotifyingEventKindEnum": "alarms.models.NOTIFYING_KINDS",
    },
}

# --- Diagnostics (analytics/diagnostics; the rules' own thresholds are documented in README) ------------
# Beat diagnoses every active well this often; each cycle reads the wells in batches of this many.
DIAGNOSTICS_INTERVAL = timedelta(minutes=5)
DIAGNOSTICS_BATCH_SIZE = 200

# --- Alarms --------------------------------------------------------------------------------------
# Lifecycle and state diagram in alarms/__init__.py. An active alarm returns to normal once diagnostics
# have judged its condition absent this long, counted from the first run that saw it gone: the off-delay
# that keeps a flickering condition from returning to normal and re-raising on every run.
ALARM_CLEAR_AFTER_MINUTES = env_int("ALARM_CLEAR_AFTER_MINUTES", 15, minimum=0)
# A closed alarm raised again within this long of its return to normal is reopened (counted as a chatter,
# not notified again) instead of a new alarm being raised.
ALARM_REALARM_HOLDOFF_MINUTES = env_int("ALARM_REALARM_HOLDOFF_MINUTES", 60, minimum=0)
# A critical alarm left unacknowledged (and not shelved) this long is escalated, once, to these addresses.
ALARM_ESCALATE_AFTER_MINUTES = env_int("ALARM_ESCALATE_AFTER_MINUTES", 15, minimum=1)
ALARM_ESCALATION_RECEIVERS = env_list("ALARM_ESCALATION_RECEIVERS", [])
# Shelving is always time-limited: the longest an operator may shelve an alarm for.
ALARM_SHELVE_MAX_HOURS = env_int("ALARM_SHELVE_MAX_HOURS", 72, minimum=1)
for _address in ALARM_ESCALATION_RECEIVERS:
    if _address.count("@") != 1 or _address.startswith("@") or _address.endswith("@"):
        raise ImproperlyConfigured(f"ALARM_ESCALATION_RECEIVERS must list e-mail addresses, got {_address!r}.")
# Notifications (alarms/notifications.py): e-mail (EMAIL_* below) and signed webhooks, each delivery tried
# up to ALARM_NOTIFY_MAX_ATTEMPTS times; retry n waits ALARM_NOTIFY_RETRY_SECONDS × 2^(n-1), at most an
# hour, less up to half of it at random so that receivers coming back are not hit by every retry at once.
ALARM_NOTIFY_MAX_ATTEMPTS = env_int("ALARM_NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
ALARM_NOTIFY_RETRY_SECONDS = env_int("ALARM_NOTIFY_RETRY_SECONDS", 30, minimum=1)
# Seconds a webhook receiver has to accept the connection, and then for each read of its answer.
ALARM_WEBHOOK_TIMEOUT_SECONDS = env_int("ALARM_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# Where people open the platform (e.g. https://esp.example.com), for the links in notifications; blank:
# the links are paths.
ALARM_LINK_BASE_URL = env_str("ALARM_LINK_BASE_URL", "").strip().rstrip("/")
if ALARM_LINK_BASE_URL and not ALARM_LINK_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"ALARM_LINK_BASE_URL must start with http(s)://, got {ALARM_LINK_BASE_URL!r}.")

# --- E-mail (alarm notifications) ----------------------------------------------------------------
# Django's SMTP backend; under DEBUG the default prints each mail on the console instead.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
# STARTTLS (usually port 587) or implicit TLS (usually 465), not both.
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them.")
# Seconds for each step of talking to the SMTP server: a dead server fails the attempt, which is retried.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ESP alarms <esp-alarms@localhost>")

# --- Dashboards (dashboards/: server-rendered pages over sessions) -------------------------------
# Browsers sign in at /login (the admin's throttled, audited form) and land on the fleet overview.
LOGIN_URL = "dashboards:login"
LOGIN_REDIRECT_URL = "dashboards:fleet"
# A well whose newest reading is older than this counts as not reporting (stale) on the dashboards.
DASHBOARD_STALE_AFTER_MINUTES = 15
# How often an open page asks for its live parts again (polling; README "Dashboards" says why not SSE).
DASHBOARD_LIVE_SECONDS = 10

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", REDIS_URL, schemes=("redis", "rediss", "amqp"))
CELERY_RESULT_BACKEND = None
# A task is acknowledged when it has finished, not when it starts, and one whose worker process died under
# it (SIGKILL, out of memory) goes back to the queue instead of being recorded as failed: every task is
# idempotent (tests/faults/test_worker_faults.py), so running one again after a lost worker is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task still running when the worker loses Redis cannot be acknowledged any more and will be handed out
# again: stop it rather than run it twice at once (Celery 6's default; silences 5.x's warning about it).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis broker: a task a worker took and never acknowledged (the whole worker killed, its host lost) is
# handed to another worker after this many seconds. It must exceed the longest task (the nightly backup).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=1),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Periodic tasks (copied into django-celery-beat's tables on start, where admins can re-time them).
CELERY_BEAT_SCHEDULE = {
    # Daily partitions ahead and retention drops (PostgreSQL), policy intervals (TimescaleDB).
    "telemetry-maintain-storage": {"task": "telemetry.tasks.maintain_storage", "schedule": timedelta(hours=1)},
    # Fold what ingestion changed into the rollups; reads are real time either way, this keeps them cheap.
    "analytics-refresh-rollups": {"task": "analytics.refresh_rollups", "schedule": timedelta(minutes=1)},
    "analytics-expire-rollups": {"task": "analytics.expire_rollups", "schedule": timedelta(days=1)},
    "analytics-run-diagnostics": {"task": "analytics.run_diagnostics", "schedule": DIAGNOSTICS_INTERVAL},
    # Refresh tokens past expiry (and their blacklist rows), and logouts of expired access tokens, are dead weight.
    "accounts-delete-expired-refresh-tokens": {
        "task": "accounts.delete_expired_refresh_tokens",
        "schedule": timedelta(days=1),
    },
    "accounts-delete-expired-logouts": {"task": "accounts.delete_expired_logouts", "schedule": timedelta(days=1)},
    "accounts-prune-audit-trail": {"task": "accounts.prune_audit_trail", "schedule": timedelta(days=1)},
    # Expired shelves end, then critical alarms unacknowledged too long are escalated.
    "alarms-check-alarm-timers": {"task": "alarms.check_alarm_timers", "schedule": timedelta(minutes=1)},
    # Notification deliveries left pending (broker down when enqueued, a worker lost) or due for a retry.
    "alarms-sweep-notifications": {"task": "alarms.sweep_notifications", "schedule": timedelta(minutes=1)},
}

# --- Backups (operations/backups.py: manage.py backup, verify_backup, restore) -----------------------
# pg_dump custom-format files and their manifests are written here (a relative path is taken from the
# project folder). Beat runs the nightly backup at BACKUP_HOUR (TIME_ZONE), restores the new file into a
# scratch database to verify it, then keeps the newest backup of each of the last BACKUP_KEEP_DAILY days
# and of each of the last BACKUP_KEEP_WEEKLY ISO weeks and deletes the others.
BACKUP_DIR = str((BASE_DIR / env_str("BACKUP_DIR", "backups")).resolve())
BACKUP_HOUR = env_int("BACKUP_HOUR", 2, minimum=0)
if BACKUP_HOUR > 23:
    raise ImproperlyConfigured(f"BACKUP_HOUR must be an hour from 0 to 23, got {BACKUP_HOUR}.")
BACKUP_KEEP_DAILY = env_int("BACKUP_KEEP_DAILY", 7, minimum=1)
BACKUP_KEEP_WEEKLY = env_int("BACKUP_KEEP_WEEKLY", 4, minimum=0)
# Recovery-point target: verification fails when the newest reading in the restored copy is older than
# this (a nightly backup plus the time it takes, with slack). Recovery-time target: it fails when the test
# restore takes longer than this.
BACKUP_RPO_HOURS = env_int("BACKUP_RPO_HOURS", 26, minimum=1)
BACKUP_RTO_MINUTES = env_int("BACKUP_RTO_MINUTES", 60, minimum=1)
# Parallel pg_restore jobs for restores on plain PostgreSQL (TimescaleDB restores run in one job).
BACKUP_RESTORE_JOBS = env_int("BACKUP_RESTORE_JOBS", 2, minimum=1)
# Folder of the pg_dump / pg_restore to use, at least the server's major version; empty: found on PATH.
PG_BIN_DIR = env_str("PG_BIN_DIR", "")
CELERY_BEAT_SCHEDULE["operations-nightly-backup"] = {
    "task": "operations.nightly_backup",
    "schedule": crontab(hour=BACKUP_HOUR, minute=0),
}

# --- MQTT ----------------------------------------------------------------------------------------
MQTT_URL = env_url("MQTT_URL", "mqtt://127.0.0.1:1883", schemes=("mqtt", "mqtts"))
MQTT_TOPIC = env_str("MQTT_TOPIC", "esp/+/telemetry")
# The bridge (telemetry/mqtt_bridge.py) keeps a persistent session under a fixed client id, so the broker
# holds messages published while it is down (for MQTT_SESSION_EXPIRY_SECONDS) and redelivers any it
# had not acknowledged. Two bridges must not share a client id: the broker disconnects the older one.
MQTT_CLIENT_ID = env_str("MQTT_CLIENT_ID", "esp-platform-mqtt-ingest")
# Set to run several bridges (each with its own MQTT_CLIENT_ID): they subscribe to $share/<group>/MQTT_TOPIC
# and the broker gives each message to one of them (docs/scaling.md). Blank: a plain subscription.
MQTT_SHARED_GROUP = env_str("MQTT_SHARED_GROUP", "")
MQTT_SESSION_EXPIRY_SECONDS = env_int("MQTT_SESSION_EXPIRY_SECONDS", 86_400, minimum=0)
# Messages are written together once they hold this many readings, or this many ms after the first.
MQTT_BATCH_MAX_READINGS = env_int("MQTT_BATCH_MAX_READINGS", 5_000, minimum=1)
MQTT_BATCH_WAIT_MS = env_int("MQTT_BATCH_WAIT_MS", 50, minimum=1)

# --- Metrics ---------------------------------------------------------------------------------------
# GET /metrics (operations/metrics.py) and GET /health/ready (operations/health.py); README "Operations:
# metrics and health". django-prometheus's database and cache wrappers count queries and cache gets.
DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
CACHES["default"]["BACKEND"] = "django_prometheus.cache.backends.redis.RedisCache"
# Folder under which each kind of process (web, worker, beat, mqtt) keeps its prometheus_client
# multiprocess files (PROMETHEUS_MULTIPROC_DIR=$METRICS_DIR/<kind>); /metrics adds them all up. Blank: only
# this server's own processes are shown. Local disk or tmpfs, shared by the platform's processes on a host.
METRICS_DIR = env_str("METRICS_DIR", "")
# When set, /metrics answers only requests with "Authorization: Bearer <METRICS_TOKEN>"; blank: open, so
# keep /metrics off the public network (the proxy must not route it).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# The gauges read from the database and Redis are read at most this often per web process, seconds.
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 15, minimum=1)
# Each readiness check's deadline, seconds: /health/ready answers within about this long whatever hangs.
READY_CHECK_TIMEOUT_SECONDS = env_int("READY_CHECK_TIMEOUT_SECONDS", 2, minimum=1)
# Load balancers and Prometheus reach these over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT += [r"^health/ready$", r"^metrics$"]

# --- Logging -------------------------------------------------------------------------------------
# Every process logs to stderr: one JSON object per line by default outside DEBUG, readable lines under
# DEBUG. Each line carries the request id (X-Request-ID, echoed in the response), the user and the well
# where known; passwords, tokens and URL passwords are redacted from every line (config/logging.py).
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", "plain" if DEBUG else "json", ("json", "plain"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "config.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"()": "config.logging.PlainFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Celery's worker and beat log through the handler above instead of replacing the root logger's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
