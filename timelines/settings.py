"""Settings, read from the environment (and an optional `.env` file beside manage.py).

Every variable read here is described once, in the configuration table of docs/operators.md
(tests/test_it_documents_every_setting.py holds the two to each other).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# A development key is tolerable only while DEBUG is on: a leaked default key in production
# would let anyone forge sessions.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. For development, set DEBUG=true "
            "(`export DEBUG=true`; make run does it); in production, set SECRET_KEY."
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Addresses (or networks, or *) of the proxy in front of gunicorn, whose X-Real-IP header names
# the client (timelines/proxy.py). Empty: no header is believed.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute base for links that leave the app (chat_url in outbound payloads, inbound URLs). Read
# it with timelines.site.site_url(): when this is empty, the address `make run ADDR=…` recorded
# in the database is used (else http://127.0.0.1:8000).
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# Outbound requests to user-supplied URLs refuse private and loopback addresses unless this is on.
# Development (DEBUG) allows them by default, so a receiver on the developer's machine works
# under `make run` (which turns it off again when it serves beyond loopback); production refuses.
ALLOW_PRIVATE_URLS = env.bool("ALLOW_PRIVATE_URLS", default=DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "timelines",
    "credits",
    "whatsapp",
    "webhooks.inbound",
    "webhooks.outbound",
    "webhooks.endpoints",
    "ops",
]

MIDDLEWARE = [
    # First, so that every line a request causes carries its id (timelines/logconfig.py), and
    # the client's address is known before anything reads it (timelines/proxy.py).
    "timelines.logconfig.RequestId",
    "timelines.proxy.ClientAddress",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "timelines.urls"
WSGI_APPLICATION = "timelines.wsgi.application"

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
                "whatsapp.context_processors.header",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the workers share one file: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock up front (no deadlocking lock upgrades) and the timeout makes
    # a writer wait for its turn instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # The ORM binds parameters on the client and never prepares; this lets psycopg prepare the
    # inbound endpoint's read and write once per connection (timelines.rows.fetch_one). psycopg
    # keeps track of them itself, also across rollbacks. Behind a pooler in transaction mode that
    # cannot keep prepared statements, turn it off.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

# Every file a message carries (SPEC M2): Django's default storage, read and written by the web
# app and every worker alike — a directory (MEDIA_ROOT) on the embedded default, shared by every
# process; an S3-compatible object store when MEDIA_S3_BUCKET is set (several machines).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            # Links redirect to a presigned URL that lasts this long (seconds): a link followed
            # later is signed again, so short is enough.
            "querystring_expire": env.int("MEDIA_S3_PRESIGNED_SECONDS", default=300),
            "file_overwrite": False,
            "default_acl": None,
            "signature_version": "s3v4",
        },
    }
# The largest received file kept (bytes; a larger one is marked unavailable, saying so), and how
# many days files are kept before the daily retention task removes them (the message stays).
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=100 * 1024 * 1024)
MEDIA_RETENTION_DAYS = env.int("MEDIA_RETENTION_DAYS", default=90)

# The demo owner's password, when chosen (`manage.py demo`), and where a generated one is kept,
# to show it again (git-ignored).
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="")
DEMO_PASSWORD_FILE = env.path("DEMO_PASSWORD_FILE", default=BASE_DIR / ".demo-password")

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Timelines <noreply@localhost>")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Timelines API",
    "DESCRIPTION": (
        "Send WhatsApp messages through a workspace's inbound webhook, and manage its webhooks v2 "
        "endpoints (Bearer workspace API token)."
    ),
    "VERSION": "1.0.0",
    # /api/docs/ serves Swagger UI from the app's static files, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Logs (SPEC H4, P6): readable lines, or one JSON object a line with LOG_FORMAT=json; either way
# with the request's id or the task's name, and no secret in them (timelines/logconfig.py).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"app": {"()": f"timelines.logconfig.{LOG_FORMAT.capitalize()}Formatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "app"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers print its lines unformatted (while DEBUG is on, and
        # runserver's request lines always): through ours instead, redacted like the rest.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "propagate": False},
        "django.db.backends": {"level": "INFO"},
        # django-health-check logs each failing check with a traceback; ops/health.py logs one
        # line instead (its own errors still show).
        "health_check": {"level": "ERROR"},
    },
}

# /metrics (SPEC H2) answers only with `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a
# 404. PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself, from the environment) is where
# every process of the machine keeps its counts (timelines/metrics.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# django-q2 reads Q_CLUSTER once, at import. Without REDIS_URL the queue lives in the default
# database (django-q2 would otherwise fall back to a Redis on localhost).
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "timelines",
    # The paced sender's dispatchers keep SENDER_DISPATCHERS workers busy (one more each during
    # a hand-over); the rest run webhook deliveries and schedules.
    "workers": env.int("Q_WORKERS", default=6),
    "timeout": 90,
    # retry must exceed timeout plus queue wait, or a running task is handed out twice.
    "retry": 180,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
    # django-q2 logs through a logger of its own; `make run` sets LOG_LEVEL=WARNING for the
    # worker, so its console shows what matters (and the development emails printed there).
    "log_level": LOG_LEVEL,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The paced sender (whatsapp/sender/; docs/developers.md "Paced sender").
# How many dispatchers may run at once (each multiplexes every account; more only for more
# machines), the threads each one hands transport calls to, how long a dispatcher's hold on an
# account lasts unless renewed (a dead or frozen dispatcher's accounts are taken over after it),
# how long a dispatcher's lease outlives a dead dispatcher, and how long messages wait for a
# disconnected account.
SENDER_DISPATCHERS = env.int("SENDER_DISPATCHERS", default=2)
SENDER_THREADS = env.int("SENDER_THREADS", default=200)
SENDER_LEASE_SECONDS = env.float("SENDER_LEASE_SECONDS", default=10)
SENDER_SLOT_LEASE_SECONDS = env.float("SENDER_SLOT_LEASE_SECONDS", default=5)
SENDER_DISCONNECTED_HOURS = env.float("SENDER_DISCONNECTED_HOURS", default=24)

# Transports by name; an account names its transport, the registry finds the class.
WHATSAPP_TRANSPORTS = {
    "simulator": "whatsapp.transports.simulator.SimulatorTransport",
    "waha": "whatsapp.transports.waha.WahaTransport",
}

# WAHA servers the operator trusts although they live on a private address (WAHA usually runs
# on the same machine or LAN): their origins skip the private-address guard, nothing else does.
# Example: WAHA_TRUSTED_URLS=http://127.0.0.1:3000,http://waha:3000
WAHA_TRUSTED_URLS = env.list("WAHA_TRUSTED_URLS", default=[])
# The operator's own WAHA server (deploy/compose.yaml runs one beside the app): the connect form
# offers it, and uses its API key when the owner leaves the key empty; it is trusted like the
# servers above. WAHA posts events to WAHA_WEBHOOK_BASE_URL (default: the site's URL): Timelines'
# address as WAHA sees it, e.g. http://app:8000 inside compose.
WAHA_URL = env.str("WAHA_URL", default="").rstrip("/")
WAHA_API_KEY = env.str("WAHA_API_KEY", default="")
WAHA_WEBHOOK_BASE_URL = env.str("WAHA_WEBHOOK_BASE_URL", default="").rstrip("/")
if WAHA_URL and WAHA_URL not in WAHA_TRUSTED_URLS:
    WAHA_TRUSTED_URLS.append(WAHA_URL)
# Seconds to wait for WAHA's answer to one call (sending a 2 MB file can take a while).
WAHA_TIMEOUT = env.float("WAHA_TIMEOUT", default=30.0)
# The reconciliation sweep (whatsapp/waha_sweep.py, a schedule every 5 minutes): per run at most
# this many accounts and seconds; per account WAHA's most recently active chats, per chat its
# latest messages of the last hours.
WAHA_SWEEP_ACCOUNTS = env.int("WAHA_SWEEP_ACCOUNTS", default=50)
WAHA_SWEEP_SECONDS = env.float("WAHA_SWEEP_SECONDS", default=60.0)
WAHA_SWEEP_CHATS = env.int("WAHA_SWEEP_CHATS", default=20)
WAHA_SWEEP_MESSAGES = env.int("WAHA_SWEEP_MESSAGES", default=50)
WAHA_SWEEP_HOURS = env.float("WAHA_SWEEP_HOURS", default=24.0)

# Outbound webhook: seconds to wait for the receiver's answer (SPEC O5 says 10).
OUTBOUND_WEBHOOK_TIMEOUT = env.float("OUTBOUND_WEBHOOK_TIMEOUT", default=10.0)
# How many delivery drains may run at once (each a worker process with its own thread pool); a
# second starts only while a backlog waits. More for more cores and qcluster machines.
OUTBOUND_DRAINS = env.int("OUTBOUND_DRAINS", default=2)

# Webhooks v2 (SPEC W1, W3): endpoints per workspace, and how long an attachment's
# temporary_download_url works (seconds).
WEBHOOK_ENDPOINTS_MAX = env.int("WEBHOOK_ENDPOINTS_MAX", default=10)
ATTACHMENT_LINK_TTL = env.int("ATTACHMENT_LINK_TTL", default=24 * 3600)
