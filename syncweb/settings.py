"""syncweb settings. Everything an operator may change comes from the environment
(see the configuration table in README.md); the defaults are the embedded setup of
`make run`: SQLite and a generated secret key under var/, Redis on localhost."""

import base64
import ipaddress
import re
import secrets
import socket
import zoneinfo
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from syncweb.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SYNCWEB_VAR_DIR", str(BASE_DIR / "var")))


def _embedded_secret_key() -> str:
    """The embedded default keeps a generated key under var/ so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY", "") or _embedded_secret_key()
# Earlier secret keys, still accepted while sessions and credentials move to the new
# one (Django's key rotation; see synchronizations/credentials.py).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DEBUG", False)
SYNCWEB_PORT = env_int("SYNCWEB_PORT", 8080, minimum=1, maximum=65535)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", socket.gethostname()])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# A refused CSRF check: a problem (JSON) under /sync/api/, Django's page elsewhere.
CSRF_FAILURE_VIEW = "api.problems.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "axes",
    "accounts",
    "synchronizations",
    "metrics",
    "runtime",
    "alerts",
    # After synchronizations: its admin extends the Repository admin (hooks/admin.py).
    "hooks",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our own origin
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A Content-Security-Policy on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a signed-in user unless its view is marked @login_not_required
    # (the login page and the health check).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Times in the user's display zone (accounts/preferences.py).
    "accounts.preferences.DisplayZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A forged admin action's ids get a message, not a 500 (syncweb/middleware.py).
    "syncweb.middleware.AdminActionIdsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "syncweb.urls"
WSGI_APPLICATION = "syncweb.wsgi.application"

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
                "syncweb.context_processors.console",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'syncweb.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60, minimum=0, maximum=86_400))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r} cannot be read: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # The web server, the worker and beat share the file: WAL lets readers run
        # beside the writer, IMMEDIATE takes the write lock at BEGIN so that two
        # writers queue up (for `timeout` seconds) instead of failing to upgrade.
        # A 32 MB page cache per connection (SQLite's default is 2 MB): a bulk action
        # updates index pages all over a million-row table.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r}: only sqlite:// and postgres:// are supported.")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out user before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Failed-login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one
# username from one address, that pair is locked out for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1, maximum=525_600))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client's address, behind a proxy too (accounts/client_address.py).
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known IANA time zone (e.g. Europe/Berlin).") from None
USE_I18N = True
USE_TZ = True

# The deployment's name ("production", "test", ...): a coloured band in every page's
# header and a prefix of its title, so nobody clears errors in production thinking
# it is test. Empty: no band.
SYNCWEB_ENVIRONMENT = env_str("SYNCWEB_ENVIRONMENT", "")
if len(SYNCWEB_ENVIRONMENT) > 40:
    raise ImproperlyConfigured("SYNCWEB_ENVIRONMENT is longer than 40 characters: use a short name like 'production'.")

# --- Static files (whitenoise serves them; nothing comes from a CDN) -----------------
STATIC_URL = "/sync/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Redis and Celery --------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6390/0", schemes=("redis", "rediss", "unix"))
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# The default cache stays in each process; the API's rate limits are counted in
# Redis so that every web process shares them (api/throttling.py, which counts
# per process while Redis does not answer: short timeouts keep a request from
# waiting on it).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api-throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "syncweb",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    },
}
# Results are stored only for tasks that declare ignore_result=False (nothing reads
# the others); those expire after a day.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = timedelta(days=1)
# A task is acknowledged after it ran, so a worker that dies mid-job leaves its
# message to be delivered again (the tasks are idempotent). The visibility timeout
# is how long Redis waits for the acknowledgement before handing the message out
# again; keep it above the longest task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=30, maximum=7 * 86_400),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE
# The engine's clock (Celery beat): every SYNCWEB_TICK seconds, queue change detection
# of the mappings whose interval has passed and the pending syncs whose retry time
# has come; now and then, put back the syncs whose worker died.
SYNCWEB_TICK = env_float("SYNCWEB_TICK", 2.0, minimum=0.1, maximum=3600)
# A sync processing (or a detection running) longer than this is taken to have lost
# its worker and is put back.
SYNCWEB_PROCESSING_TIMEOUT = env_int("SYNCWEB_PROCESSING_TIMEOUT", 300, minimum=1, maximum=86_400)
# A queued or running operation whose job neither was handed to the broker nor made
# progress for this many seconds lost its job (broker down, worker killed), and is
# dispatched again by beat and by every worker that starts.
SYNCWEB_OPERATION_STALL = env_int("SYNCWEB_OPERATION_STALL", 60, minimum=1, maximum=86_400)
# --- Alerts (README, "Alerts") ----------------------------------------------------------
# Where the console is, for the links in notifications.
SYNCWEB_BASE_URL = env_url("SYNCWEB_BASE_URL", "http://localhost:8080", schemes=("http", "https"))
# Seconds between evaluations of the alert rules.
SYNCWEB_ALERT_INTERVAL = env_float("SYNCWEB_ALERT_INTERVAL", 30.0, minimum=0.5, maximum=3600)
# Attempts at a notification before it is marked failed; the first retry after
# RETRY_BASE seconds, then twice as long each time (at most an hour).
SYNCWEB_ALERT_DELIVERY_ATTEMPTS = env_int("SYNCWEB_ALERT_DELIVERY_ATTEMPTS", 5, minimum=1, maximum=100)
SYNCWEB_ALERT_RETRY_BASE = env_float("SYNCWEB_ALERT_RETRY_BASE", 30.0, minimum=0.1, maximum=86_400)
# Seconds one notification may take (connecting and sending) before it counts as failed.
SYNCWEB_ALERT_TIMEOUT = env_float("SYNCWEB_ALERT_TIMEOUT", 20.0, minimum=0.5, maximum=600)
CELERY_BEAT_SCHEDULE = {
    "dispatch-detection": {"task": "synchronizations.tasks.dispatch_detection", "schedule": SYNCWEB_TICK},
    "dispatch-due-syncs": {"task": "synchronizations.tasks.dispatch_due_syncs", "schedule": SYNCWEB_TICK},
    "reap-stuck-syncs": {
        "task": "synchronizations.tasks.reap_stuck_syncs",
        "schedule": max(SYNCWEB_TICK, min(30.0, SYNCWEB_PROCESSING_TIMEOUT / 2)),
    },
    "check-repositories": {
        "task": "synchronizations.tasks.check_repositories",
        "schedule": max(SYNCWEB_TICK, 5.0),
    },
    "redispatch-operations": {
        "task": "synchronizations.tasks.redispatch_operations",
        "schedule": max(SYNCWEB_TICK, min(10.0, SYNCWEB_OPERATION_STALL / 2)),
    },
    # Requests the periodic full rescans that are due (Mapping.full_scan_hours, in
    # hours: ten minutes late at most is soon enough).
    "request-full-scans": {"task": "synchronizations.tasks.request_full_scans", "schedule": max(SYNCWEB_TICK, 600.0)},
    # Alerts (alerts/rounds.py): evaluate the rules and send the due notifications. A
    # message older than one interval is dropped: the next one does the same work.
    "evaluate-alerts": {
        "task": "alerts.tasks.evaluate_alerts",
        "schedule": SYNCWEB_ALERT_INTERVAL,
        "options": {"expires": SYNCWEB_ALERT_INTERVAL},
    },
}
# Syncs an operation applies per transaction. Each commit writes the index pages the
# chunk touched; 5,000 at a time wrote a Retry of 100,000 syncs in error in a third
# less time than 1,000 (bench/bulk.py), holding SQLite's write lock a few tenths of
# a second per chunk.
SYNCWEB_OPERATION_CHUNK = env_int("SYNCWEB_OPERATION_CHUNK", 5000, minimum=1, maximum=100_000)
# Sending a message to a broker that is down gives up quickly (the work stays
# recorded and is sent again later), so that no page waits on a dead Redis.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# An unhealthy repository (credentials refused, permission denied) is tried again
# this often; its mappings resume by themselves once a call succeeds.
SYNCWEB_HEALTH_CHECK_INTERVAL = env_int("SYNCWEB_HEALTH_CHECK_INTERVAL", 60, minimum=1, maximum=86_400)
# Seconds a connector waits for a tracker to connect and to answer.
SYNCWEB_HTTP_TIMEOUT = env_float("SYNCWEB_HTTP_TIMEOUT", 20.0, minimum=0.1, maximum=600)
# Fernet keys for repository credentials (comma-separated, the encrypting one first);
# unset: keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS.
SYNCWEB_CREDENTIAL_KEYS = env_list("SYNCWEB_CREDENTIAL_KEYS", [])
for _key in SYNCWEB_CREDENTIAL_KEYS:
    try:
        _valid = len(base64.urlsafe_b64decode(_key.encode())) == 32
    except ValueError:
        _valid = False
    if not _valid:
        raise ImproperlyConfigured(
            "SYNCWEB_CREDENTIAL_KEYS has an item that is not a Fernet key (32 bytes, url-safe base64): "
            "make one with `manage.py rotate_credentials --new-key`."
        )
# Automatic retries of transient failures: at most SYNCWEB_MAX_ATTEMPTS attempts,
# waiting BASE * 2^(attempt-1) seconds (at most MAX), with jitter, in between.
SYNCWEB_MAX_ATTEMPTS = env_int("SYNCWEB_MAX_ATTEMPTS", 8, minimum=1, maximum=1000)
SYNCWEB_BACKOFF_BASE = env_int("SYNCWEB_BACKOFF_BASE", 5, minimum=1, maximum=86_400)
SYNCWEB_BACKOFF_MAX = env_int("SYNCWEB_BACKOFF_MAX", 300, minimum=1, maximum=7 * 86_400)
# How long a worker counts as alive after its last heartbeat (it beats every 2 s).
SYNCWEB_WORKER_HEARTBEAT_TTL = env_int("SYNCWEB_WORKER_HEARTBEAT_TTL", 30, minimum=5, maximum=3600)

# Scripts, styles, images, fonts and connections from our own origin only: every
# asset is vendored under static/, no template has an inline script or style.
# (Images also from data: URLs, which Bootstrap's CSS uses for its icons.)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- The JSON API (api/, README "JSON API") -------------------------------------------
REST_FRAMEWORK = {
    # A personal API token (Authorization: Bearer ...) for scripts; the browser's
    # session, with CSRF, for the documentation page.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.CanView"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing a body nested too deeply to parse (a 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    # No OPTIONS answers describing the serializers (they described the wrong one): 405.
    "DEFAULT_METADATA_CLASS": None,
    # Every answer is JSON, whatever the Accept header asks.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.AlwaysJson",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "syncweb API",
    "DESCRIPTION": (
        "What the operator console shows and does, for scripts: syncs and their error queue, the bulk "
        "actions, operations, mappings, repositories, metrics, logs and the dashboard. Authenticate with "
        "a personal API token (`Authorization: Bearer <token>`, from the console's API tokens page); "
        "errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/sync/api/v1",
    # Each operation once, at its canonical path (api/urls.py answers without the slash too).
    "PREPROCESSING_HOOKS": ["api.schema.canonical_paths"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SyncStatusEnum": "synchronizations.models.SyncStatus",
        "OperationStateEnum": "synchronizations.models.Operation.State",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge fetched from the validator's site: nothing leaves our origin.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "persistAuthorization": False},
}
# Requests per token (and per signed-in user) to the API: "<number>/<second|minute|hour|day>".
SYNCWEB_API_RATE = env_str("SYNCWEB_API_RATE", "600/minute")
if not re.fullmatch(r"[1-9][0-9]{0,8}/(s|sec|second|m|min|minute|h|hour|d|day)", SYNCWEB_API_RATE):
    raise ImproperlyConfigured(f"SYNCWEB_API_RATE={SYNCWEB_API_RATE!r} is not like 600/minute.")
# Addresses or networks that may read /sync/api/metrics (Prometheus) without a token.
SYNCWEB_PROMETHEUS_ALLOW = env_list("SYNCWEB_PROMETHEUS_ALLOW", [])
for _network in SYNCWEB_PROMETHEUS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"SYNCWEB_PROMETHEUS_ALLOW has {_network!r}, which is not an address or a network."
        ) from None

# --- Security (production behind HTTPS) ------------------------------------------------
SYNCWEB_HTTPS = env_bool("SYNCWEB_HTTPS", False)
SYNCWEB_BEHIND_PROXY = env_bool("SYNCWEB_BEHIND_PROXY", False)
# The proxies (addresses or networks) whose X-Forwarded-For is believed, behind a proxy.
SYNCWEB_TRUSTED_PROXIES = env_list("SYNCWEB_TRUSTED_PROXIES", ["127.0.0.1", "::1"])
for _proxy in SYNCWEB_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"SYNCWEB_TRUSTED_PROXIES has {_proxy!r}, which is not an address or a network."
        ) from None
if SYNCWEB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = SYNCWEB_HTTPS
SESSION_COOKIE_SECURE = SYNCWEB_HTTPS
CSRF_COOKIE_SECURE = SYNCWEB_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SYNCWEB_HTTPS else 0, minimum=0, maximum=10 * 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SYNCWEB_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The preload list is an opt-in commitment for the whole domain: its warning is silenced
# unless SECURE_HSTS_PRELOAD is asked for.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"without_traceback": {"()": "syncweb.log_filters.WithoutTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "console_one_line": {"class": "logging.StreamHandler", "filters": ["without_traceback"]},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request at INFO: one line per call to a tracker.
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django logs every 4xx answer (a 403, a 404) at WARNING, a 403 with its whole
        # traceback: ordinary refusals, already in the access log. 5xx stay (ERROR).
        "django.request": {"level": "ERROR"},
        # A bad Host header, a body too big (SuspiciousOperation): one line each, no traceback.
        "django.security": {"handlers": ["console_one_line"], "propagate": False},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Apprise's own lines may name a channel's address or echo its answer: they are
        # captured per notification (alerts/delivery.py), masked, and logged from there.
        "apprise": {"level": "WARNING", "handlers": ["null"], "propagate": False},
        # urllib3 (under Apprise's requests) logs each request's path and query at
        # DEBUG: a webhook's token may be either.
        "urllib3": {"level": "WARNING"},
    },
}
