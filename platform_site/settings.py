"""Django settings for Chainlake. Every knob is an environment variable; see README "Configuration"."""

import os
from datetime import timedelta

from .config import (
    BASE_DIR,
    data_dir,
    delivery_deadline,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_seconds,
    secret_key,
    storage_url,
)
from .database import database_settings
from .logging import logging_config

DATA_DIR = data_dir()
# From the environment, else generated once into the data folder for local runs (`make run`);
# the production settings refuse to start without it.
SECRET_KEY = secret_key(DATA_DIR)
# Off unless asked for: a debug page shows settings and the environment to whoever triggers an error.
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "platform_site.admin_site.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "knox",
    "drf_standardized_errors",
    "django_q",
    "platform_site",
    "orgs",
    "orchestration",
    "versioning",
    "labels",
    "chains",
    "queries",
    "alerting",
    "pii",
    "access",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"

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

DATABASES = {"default": database_settings(DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "orgs.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# guardian's anonymous user would need an org; anonymous requests never get object permissions.
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# The org that owns the platform's own jobs (chain ingestion, shared derived datasets) and the
# system namespaces every org may read.
PLATFORM_ORG_SLUG = os.environ.get("CHAINLAKE_PLATFORM_ORG", "platform")
SYSTEM_NAMESPACES = env_list("CHAINLAKE_SYSTEM_NAMESPACES", ["evm", "base"])

STORAGE_URL = storage_url(DATA_DIR)
RESULT_STORAGE_URL = os.environ.get("RESULT_STORAGE_URL") or f"{STORAGE_URL}/_results"

# API: session (browser) and per-user tokens (django-rest-knox, hashed, expiring, revocable).
KNOX_TOKEN_MODEL = "access.ApiToken"
# knox's own migrations create its default token table even when the model is swapped for ours;
# that orphan table references users and breaks TRUNCATE-based test isolation, so skip them.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("CHAINLAKE_TOKEN_TTL_DAYS", 90, minimum=1)),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "cl_",
}
# Throttle state lives in the cache: per process by default, shared through Redis when REDIS_URL is
# set (several web processes then count one user's requests together).
API_THROTTLE_USER = os.environ.get("CHAINLAKE_API_THROTTLE_USER", "1200/min")
API_THROTTLE_ANON = os.environ.get("CHAINLAKE_API_THROTTLE_ANON", "60/min")
# Orchestration knobs (see orchestration.services.failure, .dispatch and orchestration.selectors).
TASK_RETRY_BASE_SECONDS = env_float("CHAINLAKE_RETRY_BASE_SECONDS", 10.0, minimum=0)
TASK_RETRY_CAP_SECONDS = env_float("CHAINLAKE_RETRY_CAP_SECONDS", 600.0, minimum=0)
TASK_QUEUED_REDISPATCH_SECONDS = env_int("CHAINLAKE_QUEUED_REDISPATCH_SECONDS", 600, minimum=1)
# Modules whose functions a ``python`` job may name (prefixes); nothing else is importable by a job.
# ``chains.demo`` holds the steps of the shipped demo pipeline (evm.transfers, the synthetic tokens).
PYTHON_CALLABLE_MODULES = env_list(
    "CHAINLAKE_PYTHON_CALLABLE_MODULES",
    ["jobs.", "chains.demo:transfers_from_logs", "chains.demo:synthetic_token_metadata"],
)
PLANNER_COMMIT_MARGIN_SECONDS = env_int("CHAINLAKE_PLANNER_COMMIT_MARGIN_SECONDS", 60, minimum=0)
# The demo pipeline's source when it follows a node (CHAINLAKE_EVM_RPC_URL; chains/demo.py).
DEMO_EVM_CHAIN_ID = env_int("CHAINLAKE_EVM_CHAIN_ID", 1, minimum=1)
DEMO_EVM_START_BLOCK = env_int("CHAINLAKE_EVM_START_BLOCK", 0, minimum=0)
DEMO_EVM_CONFIRMATIONS = env_int("CHAINLAKE_EVM_CONFIRMATIONS", 12, minimum=0)
# Fault injection for the crash tests, zero in production: a publish transaction is held open this
# many seconds before it commits (only the named job's, when one is named) so a test can kill the
# worker inside it.
FAULT_PUBLISH_PAUSE_SECONDS = env_float("CHAINLAKE_FAULT_PUBLISH_PAUSE_SECONDS", 0.0, minimum=0)
FAULT_PUBLISH_PAUSE_JOB = os.environ.get("CHAINLAKE_FAULT_PUBLISH_PAUSE_JOB", "")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "platform_site.api.schema.PlatformAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing or bad credential a 401.
        "access.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "platform_site.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": API_THROTTLE_USER, "anon": API_THROTTLE_ANON},
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Every API error has one shape: {"type": ..., "errors": [{"code", "detail", "attr"}]}.
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "platform_site.api.errors.PlatformExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chainlake API",
    "DESCRIPTION": "Orchestration, versioned lake, queries and alerting for blockchain data.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "VisibilityEnum": "orgs.models.Visibility",
        "RoleEnum": "orgs.models.UserRole",
        # Several resources have a status or a mode of their own: each vocabulary gets its own name.
        "TaskStatusEnum": "orchestration.models.TaskStatus",
        "AlertDeliveryStatusEnum": "alerting.models.AlertDeliveryStatus",
        "QueryResultStatusEnum": "queries.models.QueryResultStatus",
        "QueryResultModeEnum": "queries.models.QueryResultMode",
        "ExecuteModeEnum": ["sync", "async", "export"],
        **{
            name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
            for name in [
                "ValidationErrorEnum",
                "ClientErrorEnum",
                "ServerErrorEnum",
                "ErrorCode401Enum",
                "ErrorCode403Enum",
                "ErrorCode404Enum",
                "ErrorCode405Enum",
                "ErrorCode406Enum",
                "ErrorCode415Enum",
                "ErrorCode429Enum",
                "ErrorCode500Enum",
            ]
        },
    },
    # drf-standardized-errors' hook replaces drf-spectacular's enum hook (it does both jobs).
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums"],
}
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# django-q2: the ORM broker by default; Redis when REDIS_URL is set. Many qcluster processes on
# many hosts share one database: that is how the platform scales out.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "chainlake",
    "workers": env_int("CHAINLAKE_WORKERS", 2, minimum=1),
    "timeout": 3600,
    "retry": 3700,
    "max_attempts": 1,  # the tasks table decides retries; django-q2 never re-runs on its own
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Background work",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # django-q2's Redis broker loses a message its cluster took once that cluster or worker dies;
    # this one keeps it in a processing list until the run is over (orchestration/broker.py).
    Q_CLUSTER["broker_class"] = "orchestration.broker.ReliableRedis"
else:
    Q_CLUSTER["orm"] = "default"

# -- serving, logging, health and metrics ---------------------------------------------------------
# `manage.py run_platform` (`make run`): where its gunicorn serves, with how many worker processes,
# and whether gunicorn writes its own access log beside the platform's request log.
RUN_PLATFORM_ADDR = os.environ.get("CHAINLAKE_ADDR", "127.0.0.1:8000")
RUN_PLATFORM_WEB_WORKERS = env_int("CHAINLAKE_WEB_WORKERS", 2, minimum=1)
RUN_PLATFORM_GUNICORN_ACCESS_LOG = env_bool("CHAINLAKE_GUNICORN_ACCESS_LOG", default=False)
# Static files are served by whitenoise from the WSGI app (gunicorn in `make run` and production).
# Outside production it serves them straight from the apps' folders (finders), so tests and local
# runs need no collectstatic; production settings serve the collected, hashed, compressed copies.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
MIDDLEWARE.append("platform_site.logging.RequestLogMiddleware")
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic fills it; whitenoise expects it to exist
# One line per request and per task transition; JSON objects with CHAINLAKE_LOG_JSON=true.
LOGGING = logging_config(
    json_lines=env_bool("CHAINLAKE_LOG_JSON", default=False), level=os.environ.get("LOG_LEVEL", "INFO")
)
# Each task's log lines and each delivery's attempts, one file per record, on the machine that wrote
# them (platform_site.record_logs); retention removes them with their records.
RECORD_LOG_DIR = DATA_DIR / "logs"
# /metrics: a scraper sends this as a bearer token; unset, only loopback and superusers may scrape.
METRICS_TOKEN = os.environ.get("CHAINLAKE_METRICS_TOKEN", "")
# Old tasks (and their task inputs), alert events and deliveries, query results and django-q2's own
# records are pruned daily (`manage.py prune`), a batch per short transaction.
RETENTION_BATCH_SIZE = env_int("CHAINLAKE_RETENTION_BATCH_SIZE", 1000, minimum=1)
Q_RETENTION_DAYS = env_int("CHAINLAKE_Q_RETENTION_DAYS", 7, minimum=0)
# django-q2 keeps every result (0: no per-result pruning). With a positive save_limit its monitor
# locks and reads every stored success on every result to prune one, a serial cost per task that
# capped a cluster at a few dozen tasks a second; retention prunes these records by age instead.
# -1 keeps failures only (the tasks table already records every task's outcome).
Q_CLUSTER["save_limit"] = env_int("CHAINLAKE_Q_SAVE_LIMIT", 0, minimum=-1)
# The broker queue's name: deployments (or test runs) sharing one Redis keep apart by it.
Q_CLUSTER["name"] = os.environ.get("CHAINLAKE_QUEUE_NAME", Q_CLUSTER["name"])
# A database outage answers 503 with Retry-After instead of a 500 (last, so it sees view errors first).
MIDDLEWARE.append("platform_site.database_unavailable.DatabaseUnavailableMiddleware")
# Stopping runaway work: how long an interrupted operator may take to return before its worker
# process is ended, and how often a running task checks that it is still its own (cancel, reap).
TASK_INTERRUPT_GRACE_SECONDS = env_float("CHAINLAKE_TASK_INTERRUPT_GRACE_SECONDS", 5.0, minimum=0)
TASK_FENCE_CHECK_SECONDS = env_seconds("CHAINLAKE_TASK_FENCE_CHECK_SECONDS", 1.0)
# The worker supervisor (``manage.py run_workers``): a queued task whose broker message is gone is
# sent again after this many seconds; a cluster that runs nothing this long while work waits is
# replaced.
# The ORM broker: an empty queue is polled every 0.1 s (a task waits for the next poll, so this is
# its pending->running latency; Redis blocks on the list instead), and one poll takes up to one
# message per worker at once rather than one query per message.
Q_CLUSTER["poll"] = env_seconds("CHAINLAKE_Q_POLL_SECONDS", 0.1)
Q_CLUSTER["bulk"] = max(1, Q_CLUSTER["workers"])
# A worker process is replaced after this many tasks (django-q2's default, 500, made a cluster spend
# about a quarter of its time starting workers and importing the engine under a stream of short
# tasks), or after a task that took its peak memory past CHAINLAKE_Q_MAX_RSS_KB (1 GiB).
Q_CLUSTER["recycle"] = env_int("CHAINLAKE_Q_RECYCLE", 20000, minimum=1)
Q_CLUSTER["max_rss"] = env_int("CHAINLAKE_Q_MAX_RSS_KB", 1024 * 1024, minimum=1)
TASK_LOST_MESSAGE_SECONDS = env_seconds("CHAINLAKE_LOST_MESSAGE_SECONDS", 10.0)
WORKER_STALL_SECONDS = env_seconds("CHAINLAKE_WORKER_STALL_SECONDS", 30.0)
# On Redis each worker host's supervisor keeps a liveness key with this TTL; once it expires, any
# other supervisor puts the messages that host's cluster took and did not finish back on the queue.
WORKER_HOST_TTL_SECONDS = env_seconds("CHAINLAKE_WORKER_HOST_TTL_SECONDS", 10.0)
DATABASE_UNAVAILABLE_NEXT_HANDLER = REST_FRAMEWORK.get(
    "EXCEPTION_HANDLER", "rest_framework.views.exception_handler"
)
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "platform_site.database_unavailable.api_exception_handler"
# Platform ceilings on the query limits an org's owner sets (orgs/settings_schema.py): a setting
# above its ceiling is refused on save, and the effective value is never above it (an org saved
# before the ceiling was lowered). They keep one org from taking a host's memory, cores or disk.
ORG_SETTING_CEILINGS = {
    "query_memory_limit_mb": env_int("CHAINLAKE_MAX_QUERY_MEMORY_MB", 16_384, minimum=1),
    "query_threads": env_int("CHAINLAKE_MAX_QUERY_THREADS", 8, minimum=1),
    "query_temp_space_mb": env_int("CHAINLAKE_MAX_QUERY_TEMP_SPACE_MB", 102_400, minimum=0),
    "query_timeout_seconds": env_int("CHAINLAKE_MAX_QUERY_TIMEOUT_SECONDS", 1800, minimum=1),
    "query_max_sync_rows": env_int("CHAINLAKE_MAX_QUERY_SYNC_ROWS", 100_000, minimum=1),
    "query_max_sync_result_mb": env_int("CHAINLAKE_MAX_SYNC_RESULT_MB", 256, minimum=1),
    "query_max_async_result_mb": env_int("CHAINLAKE_MAX_ASYNC_RESULT_MB", 8192, minimum=1),
    "query_max_export_result_mb": env_int("CHAINLAKE_MAX_EXPORT_RESULT_MB", 102_400, minimum=1),
}
# Personal data (pii app). The keyed-hash masking key: its own environment variable, else derived
# from SECRET_KEY under a fixed purpose label, so hashed values stay stable (joins on them work)
# across restarts and never equal a plain hash anyone could precompute.
PII_HASH_KEY = os.environ.get("CHAINLAKE_PII_HASH_KEY", "")
# Dataset columns holding personal data besides those jobs declare in config.pii_columns:
# {"dataset": {"column": "redact" | "hash" | "partial"}}; model fields: {"app_label.Model": {...}}.
PII_DATASET_COLUMNS: dict[str, dict[str, str]] = {}
PII_MODEL_FIELDS: dict[str, dict[str, str]] = {"orgs.User": {"email": "partial"}}


# --- Brute force: failed admin logins (django-axes) and failed API tokens -----------------------
# Five wrong passwords for one login from one address lock that pair out for 15 minutes; keyed on
# the pair so that nobody can lock a user out of every address by guessing from one.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes asks
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
AXES_FAILURE_LIMIT = env_int("CHAINLAKE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CHAINLAKE_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form's field and authenticate()'s keyword, whatever the user model's USERNAME_FIELD.
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Requests with a wrong, expired or revoked API token, per client address (access.authentication).
API_THROTTLE_FAILED_TOKEN = os.environ.get("CHAINLAKE_API_THROTTLE_FAILED_TOKEN", "10/min")

# Outbound calls and alert delivery. OUTBOUND_ALLOW lists CIDRs or host names exempt from the
# outbound policy (platform_site/outbound.py), which otherwise refuses every non-public address.
OUTBOUND_ALLOW = env_list("CHAINLAKE_OUTBOUND_ALLOW", [])
ALERT_DELIVERY_CONNECT_TIMEOUT = env_seconds("CHAINLAKE_ALERT_CONNECT_TIMEOUT", 5.0)
ALERT_DELIVERY_READ_TIMEOUT = env_seconds("CHAINLAKE_ALERT_READ_TIMEOUT", 10.0)
ALERT_DELIVERY_LEASE_SECONDS = env_seconds("CHAINLAKE_ALERT_LEASE_SECONDS", 60)
# One attempt (connect, send, the whole answer; webhook, Slack or SMTP) ends within this many
# seconds, however slowly the receiver answers; it must end before the attempt's lease does.
ALERT_DELIVERY_DEADLINE = delivery_deadline(
    env_seconds("CHAINLAKE_ALERT_DELIVERY_DEADLINE", 15), ALERT_DELIVERY_LEASE_SECONDS
)
ALERT_RETRY_SCALE = env_float("CHAINLAKE_ALERT_RETRY_SCALE", 1.0, minimum=0)  # tests only
EMAIL_BACKEND = os.environ.get("CHAINLAKE_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("CHAINLAKE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("CHAINLAKE_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_TIMEOUT = env_seconds("CHAINLAKE_EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = os.environ.get("CHAINLAKE_EMAIL_FROM", "alerts@chainlake.local")


# Admin theme: django-unfold ships its own CSS, fonts and scripts (Chart.js, htmx, Alpine), all
# served from static files. BasicAppConfig because the platform's admin site is the default one.
INSTALLED_APPS = [
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.guardian",
    *INSTALLED_APPS,
]
MIDDLEWARE = [*MIDDLEWARE, "platform_site.admin_timezone.OrgTimezoneMiddleware"]
FORMAT_MODULE_PATH = ["platform_site.formats"]
UNFOLD = {
    "SITE_TITLE": "Chainlake",
    "SITE_HEADER": "Chainlake",
    "SITE_SUBHEADER": "Blockchain data platform",
    "SITE_URL": "/api/schema/redoc/",
    "SITE_SYMBOL": "deployed_code",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "platform_site.dashboard.dashboard_callback",
    "STYLES": ["platform_site.admin_navigation.admin_stylesheet"],
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": "platform_site.admin_navigation.favicon_url"}
    ],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "platform_site.admin_navigation.sidebar_navigation",
    },
}

# Admin and API docs presentation: the login lands on the admin; the API docs group operations by
# resource (the path segment after /api/v1), with summaries and examples, and Redoc uses local fonts.
LOGIN_REDIRECT_URL = "/admin/"
SPECTACULAR_SETTINGS["SCHEMA_PATH_PREFIX"] = r"/api/v1"
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    *SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"],
    "platform_site.api.schema_docs.describe_operations",
]
SPECTACULAR_SETTINGS["REDOC_UI_SETTINGS"] = {
    "hideDownloadButton": False,
    "expandResponses": "200,201",
    "theme": {
        "typography": {"fontFamily": "Inter, sans-serif", "headings": {"fontFamily": "Inter, sans-serif"}}
    },
}
SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"] = {"deepLinking": True, "docExpansion": "none", "filter": True}
