"""Settings for the partner portal, read from environment variables (see .env.example).

Every value goes through a strict helper in portal.lib.env, so a typo fails at start-up with a message
instead of surfacing later. Production is DEBUG=0; it refuses to start with the development secret.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

from portal.lib.env import env_bool, env_choice, env_decimal, env_float, env_int, env_list, env_str, env_url
from portal.lib.storage import (
    ADDRESSING_STYLES,
    BACKENDS,
    ENCRYPTIONS,
    local_documents_storage,
    s3_documents_storage,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Off unless asked for: a forgotten variable must not show tracebacks on a server (`make run`'s .env sets 1).
DEBUG = env_bool("DEBUG", False)
DEV_SECRET_KEY = "portal-development-secret-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "With DEBUG=0 the portal needs its own SECRET_KEY (50 random characters); "
        "it refuses to start with the development secret. DEBUG is off unless set: on a development "
        "machine set DEBUG=1 (`make run` writes it to .env, which manage.py reads)."
    )

# Demo mode: the message outbox page and demo banners (`make run` turns it on).
PORTAL_DEMO = env_bool("PORTAL_DEMO", False)
PORTAL_PORT = env_int("PORTAL_PORT", 8000, minimum=1, maximum=65535)
UPSTREAM_SIM_PORT = env_int("UPSTREAM_SIM_PORT", 8001, minimum=1, maximum=65535)
# Served over HTTPS (directly or behind a proxy): secure cookies, HSTS and the HTTPS redirect.
PORTAL_HTTPS = env_bool("PORTAL_HTTPS", not DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", f"http://127.0.0.1:{PORTAL_PORT}", schemes=("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # the widget templates, for FORM_RENDERER below
    "django_htmx",
    "template_partials",
    "csp",
    "portal.apps.AxesConfig",  # axes, named in the user's language in the admin
    "django_otp",
    "portal.apps.TOTPConfig",  # django_otp.plugins.otp_totp, likewise
    "django_filters",
    "portal",
    "accounts",
    "customers",
    "billing",
    "upstream",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

# `make bench` (bench/README.md): PORTAL_BENCH=1 adds the trivial ceiling view and the per-request query count
# (X-Queries header). Off by default, so neither exists on a production server.
BENCH = env_bool("PORTAL_BENCH", False)
if BENCH:
    MIDDLEWARE.insert(0, "portal.bench.QueryCountMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "portal.context_processors.shell",
            ],
            "builtins": [
                "django.templatetags.i18n",
                "django.templatetags.static",
                "template_partials.templatetags.partials",
                "portal.templatetags.portal",
                "customers.templatetags.customer_tags",
            ],
        },
    }
]
# Form widgets render through the templates above, so that templates/django/forms/ can replace Django's own
# (the select widget's options inline: the filter forms' choice lists were ~4 ms of a list's first rendering).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# Databases: PostgreSQL through psycopg 3 and its connection pool.
DATABASE_URL = env_url(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal", schemes=("postgres", "postgresql")
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if env_bool("DB_POOL", True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN", 1, minimum=0),
        "max_size": env_int("DB_POOL_MAX", 8, minimum=1),
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss"))
CACHES = {
    "default": {
        "BACKEND": "portal.lib.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
    }
}

# Rendered list tables are cached under a digest of everything they show (portal/lib/fragments.py), so they
# are never stale; entries expire after this many seconds (0: no fragment cache).
FRAGMENT_CACHE_SECONDS = env_int("FRAGMENT_CACHE_SECONDS", 300, minimum=0)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend reading the user with its partner, its permissions from the cache (accounts/backends.py)
    "accounts.backends.PortalBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login lockout (django-axes): the 6th failure within 15 minutes locks the username for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 6, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The lockout is per account, as specified; axes warns that per-IP limits are not set, which is deliberate
# (staff behind one office NAT must not lock each other out).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Sessions and cookies.
# Sessions are read from the cache (one Redis read per request instead of a query) and written through to
# the database, which keeps them when the cache is emptied.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PORTAL_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PORTAL_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PORTAL_HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PORTAL_HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Languages and time.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env_str("PORTAL_TIME_ZONE", "Asia/Shanghai")
LANGUAGE_COOKIE_SECURE = PORTAL_HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# django-filter: an empty choice of a list filter reads "All" (全部), in our catalogue, not "---------".
FILTERS_EMPTY_CHOICE_LABEL = gettext_lazy("All")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Real-name verification documents (customers/documents.py, portal/lib/storage.py): private, never served as
# static or media. On the local file system by default; in an S3-compatible bucket (Huawei OBS) with
# STORAGE_BACKEND=s3 (docs/operations.md).
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "local", BACKENDS)
DOCUMENTS_ROOT = env_str("DOCUMENTS_ROOT", str(BASE_DIR / "var" / "documents"))
if STORAGE_BACKEND == "s3":
    _endpoint = env_str("STORAGE_ENDPOINT_URL", "").strip()
    DOCUMENTS_STORAGE = s3_documents_storage(
        bucket=env_str("STORAGE_BUCKET", "").strip(),
        endpoint_url=env_url("STORAGE_ENDPOINT_URL", "", schemes=("https", "http")) if _endpoint else "",
        region=env_str("STORAGE_REGION", "").strip(),
        access_key=env_str("STORAGE_ACCESS_KEY", "").strip(),
        secret_key=env_str("STORAGE_SECRET_KEY", "").strip(),
        addressing_style=env_choice("STORAGE_ADDRESSING_STYLE", "virtual", ADDRESSING_STYLES),
        encryption=env_choice("STORAGE_ENCRYPTION", "AES256", ENCRYPTIONS),
        prefix=env_str("STORAGE_PREFIX", "download").strip(),
    )
else:
    DOCUMENTS_STORAGE = local_documents_storage(DOCUMENTS_ROOT)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": DOCUMENTS_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Messages: Django's email backend and the SMS backend; every message is also recorded (accounts.Message).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Partner Portal <portal@example.com>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
SMS_BACKEND = env_str("SMS_BACKEND", "portal.lib.sms.ConsoleSmsBackend")

# Step-up verification codes for sensitive operations.
STEP_UP_CODE_TTL = timedelta(seconds=env_int("STEP_UP_CODE_TTL_SECONDS", 300, minimum=30))
STEP_UP_MAX_ATTEMPTS = env_int("STEP_UP_MAX_ATTEMPTS", 5, minimum=1)
STEP_UP_RESEND_SECONDS = env_int("STEP_UP_RESEND_SECONDS", 60, minimum=0)
OTP_TOTP_ISSUER = "Partner Portal"

# Upstream partner API (see docs/upstream.md); the defaults point at the bundled simulator.
UPSTREAM_ENDPOINT = env_url(
    "UPSTREAM_ENDPOINT", f"http://127.0.0.1:{UPSTREAM_SIM_PORT}", schemes=("http", "https")
).rstrip("/")
UPSTREAM_AK = env_str("UPSTREAM_AK", "demo-ak")
UPSTREAM_SK = env_str("UPSTREAM_SK", "demo-sk")
UPSTREAM_DOMAIN_ID = env_str("UPSTREAM_DOMAIN_ID", "demo-distributor")
UPSTREAM_PARTNER_ID = env_str("UPSTREAM_PARTNER_ID", UPSTREAM_DOMAIN_ID)
# The project the price inquiry (ListOnDemandResourceRatings) names; any project of the partner's account.
UPSTREAM_PROJECT_ID = env_str("UPSTREAM_PROJECT_ID", "demo-project")
# True when UPSTREAM_ENDPOINT is the bundled simulator: only then are the **ext** operations available.
UPSTREAM_IS_SIMULATOR = env_bool("UPSTREAM_IS_SIMULATOR", True)
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 3.0, minimum=0.1)
UPSTREAM_READ_TIMEOUT = env_float("UPSTREAM_READ_TIMEOUT", 15.0, minimum=0.1)
# How hard a sync retries one page (429, 5xx, timeouts) before the run fails, and the longest back-off.
UPSTREAM_SYNC_ATTEMPTS = env_int("UPSTREAM_SYNC_ATTEMPTS", 8, minimum=1)
UPSTREAM_SYNC_BACKOFF_MAX = env_float("UPSTREAM_SYNC_BACKOFF_MAX", 10.0, minimum=0.1)
# Requests per second per operation, shared by every process through Redis; 0 lifts the limit.
UPSTREAM_RATE_LIMIT = env_float("UPSTREAM_RATE_LIMIT", 10.0, minimum=0)

# Celery: at-least-once delivery; every task is idempotent.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", REDIS_URL, schemes=("redis", "rediss"))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60 if CELERY_TASK_TIME_LIMIT > 120 else None
# Above the longest task, so that a task still running is not handed to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 600, minimum=5)
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# Pull schedule: (dataset, every N seconds). Each entry expires before the next one is due, so a backlog
# never piles up behind a slow run.
SYNC_SCHEDULE = {
    "indirect_partners": 600,
    "customers": 300,
    "partner_balances": 60,
    "customer_balances": 120,
    "adjust_records": 60,
    "warnings": 30,
    "association_records": 120,
    "orders": 120,
    # Per customer upstream (a few requests each): a few times a day.
    "resources": 21600,
    "resource_packages": 21600,
    "commercial_discounts": 900,
    "dedicated_offers": 600,
}
CELERY_BEAT_SCHEDULE: dict = {
    f"sync-{name}": {
        "task": "upstream.sync_dataset",
        "schedule": float(seconds),
        "args": [name],
        "options": {"expires": seconds * 0.9},
    }
    for name, seconds in SYNC_SCHEDULE.items()
}
# Customer warnings: arrears emails shortly after the sync brings them, a digest every morning.
CELERY_BEAT_SCHEDULE["customers-notify-arrears"] = {
    "task": "customers.notify_arrears_warnings",
    "schedule": 60.0,
    "options": {"expires": 50.0},
}
CELERY_BEAT_SCHEDULE["customers-warning-digest"] = {
    "task": "customers.send_warning_digests",
    "schedule": crontab(hour=8, minute=0),
    "options": {"expires": 3600.0},
}
# Real-name documents are deleted this many days after the verification was approved (issue 14).
REALNAME_RETENTION_DAYS = env_int("REALNAME_RETENTION_DAYS", 180, minimum=1)
CELERY_BEAT_SCHEDULE["customers-purge-realname-documents"] = {
    "task": "customers.purge_realname_documents",
    "schedule": crontab(hour=3, minute=30),
    "options": {"expires": 3600.0},
}
# Real-name verifications under review: their status from the platform, a bounded batch a run (issue 14).
CELERY_BEAT_SCHEDULE["customers-refresh-realname-reviews"] = {
    "task": "customers.refresh_realname_reviews",
    "schedule": 60.0,
    "options": {"expires": 50.0},
}
# Push (upstream/outbox.py): enqueue schedules a drain after commit; this drain every 30 s is the backstop
# for commands written while Redis or the worker was down, and recovers sends whose worker died.
CELERY_BEAT_SCHEDULE["customers-expire-association-requests"] = {
    "task": "customers.expire_association_requests",
    "schedule": 300.0,
    "options": {"expires": 240.0},
}
CELERY_BEAT_SCHEDULE["customers-expire-invitations"] = {
    "task": "customers.expire_invitations",
    "schedule": 300.0,
    "options": {"expires": 240.0},
}
# Discounts and dedicated offers: offers past their expiry become expired; customers are reminded (email)
# PARTNER_DISCOUNT_REMINDER_DAYS before their partner discount ends.
CELERY_BEAT_SCHEDULE["billing-expire-offers"] = {
    "task": "billing.expire_offers",
    "schedule": 300.0,
    "options": {"expires": 270.0},
}
CELERY_BEAT_SCHEDULE["billing-discount-reminders"] = {
    "task": "billing.remind_expiring_discounts",
    "schedule": 3600.0,
    "options": {"expires": 3000.0},
}
# Each morning (in TIME_ZONE), yesterday's adjustments against the platform's records; admins hear of gaps.
CELERY_BEAT_SCHEDULE["billing-reconcile-daily"] = {
    "task": "billing.reconcile_daily",
    "schedule": crontab(hour=6, minute=30),
    "options": {"expires": 3600.0},
}
CELERY_BEAT_SCHEDULE["drain-outbox"] = {
    "task": "upstream.drain_outbox",
    "schedule": 30.0,
    "options": {"expires": 25.0},
}
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
# A command `sending` for longer than this is taken as abandoned (worker died) and becomes `unknown`.
OUTBOX_SENDING_LEASE_SECONDS = env_int("OUTBOX_SENDING_LEASE_SECONDS", 300, minimum=5)
# After an unknown outcome: wait the read timeout plus this before looking the change up upstream.
OUTBOX_RECONCILE_GRACE_SECONDS = env_float("OUTBOX_RECONCILE_GRACE_SECONDS", 5.0, minimum=0)
# The look-up starts this long before the send, for the upstream's clock.
OUTBOX_RECONCILE_SKEW_SECONDS = env_int("OUTBOX_RECONCILE_SKEW_SECONDS", 30, minimum=0)
OUTBOX_BACKOFF_SECONDS = env_float("OUTBOX_BACKOFF_SECONDS", 5.0, minimum=0)
OUTBOX_BACKOFF_MAX_SECONDS = env_float("OUTBOX_BACKOFF_MAX_SECONDS", 600.0, minimum=0)
OUTBOX_DRAIN_SECONDS = env_int("OUTBOX_DRAIN_SECONDS", 120, minimum=1)
# The worker writes a heartbeat to Redis this often; /healthz calls it down after WORKER_HEARTBEAT_STALE.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_HEARTBEAT_STALE = env_int("WORKER_HEARTBEAT_STALE", 45, minimum=2)
# Beat schedules a heartbeat task this often; /healthz reports beat missing after BEAT_HEARTBEAT_STALE.
BEAT_HEARTBEAT_SECONDS = env_int("BEAT_HEARTBEAT_SECONDS", 30, minimum=1)
BEAT_HEARTBEAT_STALE = env_int("BEAT_HEARTBEAT_STALE", 120, minimum=2)
CELERY_BEAT_SCHEDULE["beat-heartbeat"] = {
    "task": "portal.beat_heartbeat",
    "schedule": float(BEAT_HEARTBEAT_SECONDS),
    "options": {"expires": BEAT_HEARTBEAT_SECONDS * 0.9},
}

# A starting worker pulls every dataset once (then the beat schedule takes over).
SYNC_ON_WORKER_START = env_bool("SYNC_ON_WORKER_START", True)
# A sync run with no progress for this long is taken as dead (its worker stopped) and may be restarted.
SYNC_STALE_SECONDS = env_int("SYNC_STALE_SECONDS", 180, minimum=2)

# Customer personal data: reveals per user per window before refusing.
REVEAL_LIMIT = env_int("REVEAL_LIMIT", 30, minimum=1)
REVEAL_WINDOW_SECONDS = env_int("REVEAL_WINDOW_SECONDS", 600, minimum=1)

# Partner-granted discounts: the rates a partner may set (0.85 = 15% off), and when the customer is reminded.
PARTNER_DISCOUNT_MIN = env_decimal("PARTNER_DISCOUNT_MIN", "0.70", minimum="0.0001", maximum="1")
PARTNER_DISCOUNT_MAX = env_decimal("PARTNER_DISCOUNT_MAX", "1.00", minimum="0.0001", maximum="1")
if PARTNER_DISCOUNT_MIN > PARTNER_DISCOUNT_MAX:
    raise ImproperlyConfigured("PARTNER_DISCOUNT_MIN must not be above PARTNER_DISCOUNT_MAX.")
PARTNER_DISCOUNT_REMINDER_DAYS = env_int("PARTNER_DISCOUNT_REMINDER_DAYS", 7, minimum=1)

# Association requests (switch / disassociation): how long the other side has to decide, and how long a
# customer-initiated disassociation request keeps the partner from filing one of its own.
ASSOCIATION_REQUEST_TTL = timedelta(days=env_int("ASSOCIATION_REQUEST_TTL_DAYS", 7, minimum=1))
ASSOCIATION_COOLDOWN = timedelta(days=env_int("ASSOCIATION_COOLDOWN_DAYS", 90, minimum=0))
# Invitations to existing customers (issue 14): how long the emailed link works.
INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7, minimum=1, maximum=90))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
