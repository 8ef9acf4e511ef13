"""Settings every profile shares, read from the environment (django-environ). Strict on its own:
no secret key and no database, so nothing runs on it by accident. The profiles on top of it:
`demo.py` (zero-setup demo on SQLite, what `manage.py` uses by default), `production.py` (what
`wsgi.py` and `celery.py` use by default; secrets from the environment) and `test.py`. The HRM
sandbox is no part of the product: only the demo and test profiles install it, through
`sandbox.py`."""

import datetime
from pathlib import Path

import environ

from config.email_url import email_url_config
from ops.sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin, with a second factor for staff (security/admin_site.py).
    "security.apps.SecureAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "directory",
    "audit",  # issue 12: the access trail (below referrals and hrm, which use it)
    "referrals",
    "hrm",
    # Health, metrics, logs' request ids, error reports (issue 21; docs/observability.md).
    "ops",
    # --- Security and privacy (issue 12) ---
    # django-axes and django-otp's devices, under support's names (security/apps.py).
    "security.apps.SignInLockoutsConfig",
    "django_otp",
    "security.apps.AuthenticatorAppsConfig",
    "security.apps.BackupCodesConfig",
]

MIDDLEWARE = [
    # The request's id first, so every line logged about it carries it; then /health/ and
    # /metrics, answered before host validation, the HTTPS redirect and sign-in (ops/endpoints.py).
    "ops.request_context.RequestIdMiddleware",
    "ops.endpoints.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Security and privacy (issue 12): every page no-store, a Content-Security-Policy, Django's
    # session middleware except that a status poll does not renew the session, and request
    # bodies bounded before CsrfViewMiddleware reads them.
    "security.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "security.middleware.IdleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "security.uploads.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Tells whether this session signed in with a second factor (the admin asks for one).
    "django_otp.middleware.OTPMiddleware",
    # Deny by default: every view needs a signed-in user unless marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "directory.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "referrals:inbox"
LOGOUT_REDIRECT_URL = "login"

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
                "hrm.delivery.context_processors.hrm_health",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-ca"
TIME_ZONE = "America/Toronto"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise with or without
# DEBUG, before any view or sign-in check.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# Attachments hold patient information: they live outside any public URL and are streamed only
# through views that check the reader is a stakeholder of the referral.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
REFERRAL_ATTACHMENTS_MAX_BYTES = env.int("REFERRAL_ATTACHMENTS_MAX_BYTES", default=50 * 1024 * 1024)
# Several files of up to 10 MB arrive in one request; the per-file and per-referral limits are
# enforced by the form, this only bounds the request body as a whole.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The ways a posted message leaves the thread (referrals/channels.py), called in this order inside
# Send's transaction; referrals imports none of them. HRM first: once Send commits, its broker
# publish goes before the emails' SMTP.
MESSAGE_DELIVERY_CHANNELS = ["hrm.channel.HrmChannel", "referrals.channels.EmailChannel"]

vars().update(email_url_config(env.str("EMAIL_URL", default="consolemail://"), BASE_DIR))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="eReferral <no-reply@ereferral.local>")
# Base of the links in emails and logs. Without SITE_URL, the local server's address on PORT (the
# port `runserver`, the demo and gunicorn are given).
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
SITE_URL = SITE_URL.rstrip("/")

# A clinical workstation is often shared: short sessions that end after inactivity.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery's Django fix-up closes the database connection before and after every task unless this
# is set: a new PostgreSQL connection for every delivery. With it, workers keep their connection
# and treat it as Django treats requests (config/celery.py): closed when broken or older than
# CONN_MAX_AGE. The fix-up still closes it every this many tasks.
CELERY_DB_REUSE_MAX = 1000

# Logs go to standard error, one line per record: "plain" for people (the demo), "json" for a log
# pipeline (production's default): one JSON object per line with the request id, and in workers
# the task id and report ids (ops/request_context.py). Workers use this configuration too
# (config/celery.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ops.request_context.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            # Exception messages may quote patient data: types and frames only (ops/log_format.py).
            "()": "ops.log_format.JsonFormatterWithoutExceptionMessages",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s "
            "%(report_ids)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "json_ensure_ascii": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Operations: health, metrics, error reports (docs/observability.md) ------------------------
# /health/ready shows why a check fails (hosts, errors) only with "Authorization: Bearer <token>";
# empty: never.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
# Without the token, /health/ready answers from each web process's run of the checks of the last
# few seconds (anyone may call it; the checks write a file and open a broker connection).
OPS_READY_ANONYMOUS_CACHE_SECONDS = env.int("OPS_READY_ANONYMOUS_CACHE_SECONDS", default=10)
# /metrics answers a bearer token, or a client address (or network) in the list.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_ADDRESSES = env.list("METRICS_ALLOWED_ADDRESSES", default=["127.0.0.1", "::1"])
# The broker queues whose length /metrics reports.
OPS_METRICS_QUEUES = env.list("OPS_METRICS_QUEUES", default=["hrm", "celery"])
# Beat writes a heartbeat every minute; older than this, /health/ready says "beat failing".
OPS_BEAT_HEARTBEAT_MAX_AGE_SECONDS = env.int("OPS_BEAT_HEARTBEAT_MAX_AGE_SECONDS", default=180)
# Error reports to Sentry, scrubbed of patient data (ops/sentry.py); off without a DSN.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
sentry_init(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE)

# --- HRM ---------------------------------------------------------------------------------------
# The schema every report is validated against before it is stored or sent. It is not copied into
# this repository: by default it is read from the shared folder beside it.
HRM_SCHEMA = env.path(
    "HRM_SCHEMA",
    default=BASE_DIR.parent / "shared/hrm-schema/report_manager_v1.1.2/report_manager.xsd",
)
# The Sending Facility OntarioMD registers for this sender: its ID (1 to 4 letters or digits,
# written in every report) and its name (what EMRs show once their administrator registers it).
HRM_SENDING_FACILITY = env.str("HRM_SENDING_FACILITY", default="EREF")
HRM_SENDING_FACILITY_NAME = env.str("HRM_SENDING_FACILITY_NAME", default="eReferral messaging")
HRM_REPORT_CLASS = env.str("HRM_REPORT_CLASS", default="Consultant Report")
HRM_REPORT_SUBCLASS = env.str("HRM_REPORT_SUBCLASS", default="11488-4^Consult note")
# Shared AES key from OntarioMD, as hex: 32 digits (AES-128) or 64 (AES-256).
HRM_AES_KEY = env.str("HRM_AES_KEY", default="")
HRM_TRANSPORT = env.str("HRM_TRANSPORT", default="folder")  # "folder" or "sftp"
HRM_FOLDER_DIR = env.path("HRM_FOLDER_DIR", default=VAR_DIR / "hrm-outbox")
HRM_SFTP_HOST = env.str("HRM_SFTP_HOST", default="127.0.0.1")
HRM_SFTP_PORT = env.int("HRM_SFTP_PORT", default=22)
HRM_SFTP_USER = env.str("HRM_SFTP_USER", default="")
HRM_SFTP_KEY_FILE = env.str("HRM_SFTP_KEY_FILE", default="")
HRM_SFTP_KNOWN_HOSTS = env.str("HRM_SFTP_KNOWN_HOSTS", default="")
HRM_SFTP_DIR = env.str("HRM_SFTP_DIR", default=".")

# --- HRM delivery ------------------------------------------------------------------------------
# A report keeps being retried until it is this old (counted from Send or the latest re-send) or
# has had this many attempts; then it fails and the clinician sees the red "!".
HRM_DELIVERY_MAX_AGE_SECONDS = env.int("HRM_DELIVERY_MAX_AGE_SECONDS", default=24 * 60 * 60)
HRM_DELIVERY_MAX_ATTEMPTS = env.int("HRM_DELIVERY_MAX_ATTEMPTS", default=200)
# Reports handed to a worker together (one claim, one connection). Kept small so a batch stays
# well inside the task's time limit even when an upload runs into the SFTP timeout.
HRM_DELIVERY_BATCH_SIZE = env.int("HRM_DELIVERY_BATCH_SIZE", default=4)
# A worker's attempt takes other due reports along with its batch, up to this many reports and
# this many bytes of attachments: every step of an attempt costs one round trip to HRM however
# many files it carries (docs/delivery.md). The bytes keep a batch of large files inside the
# task's time limit on a slow link. HRM_DELIVERY_OPEN_FILES bounds the files a connection holds
# open on HRM's server at once (docs/delivery.md, "Connections per HRM account").
HRM_DELIVERY_PIPELINE_REPORTS = env.int("HRM_DELIVERY_PIPELINE_REPORTS", default=128)
HRM_DELIVERY_OPEN_FILES = env.int("HRM_DELIVERY_OPEN_FILES", default=64)
HRM_DELIVERY_PIPELINE_BYTES = env.int("HRM_DELIVERY_PIPELINE_BYTES", default=16 * 1024 * 1024)
# Exponential backoff between attempts, with jitter: first wait, and the longest wait.
HRM_RETRY_FIRST_DELAY_SECONDS = env.float("HRM_RETRY_FIRST_DELAY_SECONDS", default=10)
HRM_RETRY_MAX_DELAY_SECONDS = env.float("HRM_RETRY_MAX_DELAY_SECONDS", default=15 * 60)
# Waits up to this long are Celery countdowns; longer ones are left to the beat re-drive, so no
# countdown ever comes near the broker's visibility timeout.
HRM_RETRY_MAX_COUNTDOWN_SECONDS = env.float("HRM_RETRY_MAX_COUNTDOWN_SECONDS", default=180)
# The re-drive leaves a queued row alone this long past its due time (its task may simply be
# waiting in the queue) before enqueueing it again.
HRM_REDRIVE_GRACE_SECONDS = env.float("HRM_REDRIVE_GRACE_SECONDS", default=120)
HRM_REDRIVE_INTERVAL_SECONDS = env.float("HRM_REDRIVE_INTERVAL_SECONDS", default=60)
# Time limits, in the order that keeps a late-acked task from running twice:
# SFTP timeouts < soft limit < hard limit < "sending" considered stale < visibility timeout.
HRM_SFTP_TIMEOUT_SECONDS = env.float("HRM_SFTP_TIMEOUT_SECONDS", default=20)
HRM_TASK_SOFT_TIME_LIMIT = env.int("HRM_TASK_SOFT_TIME_LIMIT", default=120)
HRM_TASK_TIME_LIMIT = env.int("HRM_TASK_TIME_LIMIT", default=150)
HRM_SENDING_STALE_SECONDS = env.int("HRM_SENDING_STALE_SECONDS", default=300)
# An authentication or permission refusal fails a report only once HRM's server has refused it
# for this long (a restarting server refuses keys for a moment); until then it retries, and each
# refusal is logged as a warning with how long it has lasted.
HRM_REFUSAL_FAIL_AFTER_SECONDS = env.int("HRM_REFUSAL_FAIL_AFTER_SECONDS", default=30 * 60)
# After a rename, the worker keeps retrying its database write (reconnecting) this long rather
# than leave the outcome unrecorded; below HRM_TASK_SOFT_TIME_LIMIT.
HRM_DB_WRITE_RETRY_SECONDS = env.float("HRM_DB_WRITE_RETRY_SECONDS", default=60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=1800),
    # Send must not hang when Redis is down: fail fast, the outbox row is already saved. Without
    # max_retries kombu retries the connection for broker_connection_timeout plus redis-py's own
    # retries: about 6 s per Send. The worker's consumer gives its own retry count, so it still
    # reconnects for as long as it takes.
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 0,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker blip must not cut deliveries short: each report's progress is on its row, the row's
# claim keeps a redelivered task from doing the work twice, and a cancelled batch only leaves
# reports to be re-driven later (measured: it also re-sent renamed files before progress was
# recorded per report).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10
CELERY_TASK_ROUTES = {"hrm.tasks.*": {"queue": "hrm"}}
CELERY_BEAT_SCHEDULE = {
    "hrm-reports-redrive": {
        "task": "hrm.tasks.reports_redrive_task",
        "schedule": HRM_REDRIVE_INTERVAL_SECONDS,
    },
    "hrm-alerts-digest": {"task": "hrm.tasks.alerts_digest_task", "schedule": 3600},
    # Readiness reads its age; one not run within the minute is dropped, the next one counts.
    "ops-beat-heartbeat": {
        "task": "ops.tasks.beat_heartbeat",
        "schedule": 60,
        "options": {"expires": 60},
    },
}

# --- HRM support: alerts, health, bulk re-send (docs/support.md) ---------------------------------
# Who support is for email; empty: active staff who can decide HRM sender approvals.
HRM_SUPPORT_EMAILS = env.list("HRM_SUPPORT_EMAILS", default=[])
# Failure alerts emailed one by one per day; beyond, they wait for the daily digest.
HRM_ALERT_DAILY_LIMIT = env.int("HRM_ALERT_DAILY_LIMIT", default=20)
# HRM is down after this many failures about HRM in a row, across at least this many recipients.
HRM_HEALTH_DOWN_AFTER_FAILURES = env.int("HRM_HEALTH_DOWN_AFTER_FAILURES", default=6)
HRM_HEALTH_DOWN_MIN_RECIPIENTS = env.int("HRM_HEALTH_DOWN_MIN_RECIPIENTS", default=2)
# Dispatch pauses this long at first, doubling after each failed probe up to the maximum.
HRM_HEALTH_FIRST_PAUSE_SECONDS = env.float("HRM_HEALTH_FIRST_PAUSE_SECONDS", default=30)
HRM_HEALTH_MAX_PAUSE_SECONDS = env.float("HRM_HEALTH_MAX_PAUSE_SECONDS", default=600)
HRM_BULK_RESEND_BATCH_SIZE = env.int("HRM_BULK_RESEND_BATCH_SIZE", default=50)
HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS = env.float(
    "HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS", default=30
)

# --- Security and privacy (issue 12) -----------------------------------------------------------
# Sign-in throttling (django-axes), for the clinicians' page and /admin/login/ alike: after
# AXES_FAILURE_LIMIT wrong passwords for one username from one address, that pair is locked out
# for AXES_COOLOFF_MINUTES, even with the right password. Locking the pair (not the username
# alone) keeps an attacker from locking a clinician out from elsewhere; a clinic behind one
# address still has each user counted apart. Attempts and sign-ins are kept in the database
# (admin: Axes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
# The address axes counts is the one everything else uses (security/client_address.py); None
# when there is none (axes stores it in an IP address field).
AXES_CLIENT_IP_CALLABLE = "security.client_address.client_address_or_none"
# Its start-up banner would land in every management command's output.
AXES_VERBOSE = False
# The password is never stored with a failed attempt (axes masks it by default).
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "otp_token"]

# How many reverse proxies in front of the application append to X-Forwarded-For: the client's
# address is the one the outermost of them saw (security/client_address.py), for the sign-in
# lockout, the throttles, the password-reset limit and the access trail alike. 0: no proxy, the
# connection's own address (the demo, the tests, runserver). Production: 1 (docs/security.md).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Who those proxies are: X-Forwarded-For is read only on a connection from one of these addresses
# or networks (comma-separated); a client reaching gunicorn any other way is its connection's
# address, whatever it writes in the header. The default is the proxy on the same host (systemd's
# units); compose's proxy is on the private network (deploy/compose.yaml).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=["127.0.0.0/8", "::1"])

# Refuse to start when the database role can do more to the access trail than INSERT and SELECT
# (audit/checks.py). Production: on; the demo (SQLite) and the tests (one role) have one role.
ACCESS_TRAIL_ROLE_CHECK = env.bool("ACCESS_TRAIL_ROLE_CHECK", default=False)

# Request bodies (security/uploads.py): refused from their Content-Length when larger than the
# view takes, and a multipart upload stops at the first file over the view's per-file limit.
FILE_UPLOAD_HANDLERS = [
    "security.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Content-Security-Policy (django-csp 4): scripts, styles, images and forms from this site
# only; no plugins, no framing, no <base> tricks.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# The cache holds the public form's throttle counters; production shares one Redis cache
# between web processes (CACHE_URL).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Anonymous referrals from one address (per window), and to one listing from anywhere.
PUBLIC_REFERRAL_LIMIT_PER_ADDRESS = env.int("PUBLIC_REFERRAL_LIMIT_PER_ADDRESS", default=5)
PUBLIC_REFERRAL_LIMIT_PER_LISTING = env.int("PUBLIC_REFERRAL_LIMIT_PER_LISTING", default=60)
PUBLIC_REFERRAL_WINDOW_SECONDS = env.int("PUBLIC_REFERRAL_WINDOW_SECONDS", default=60 * 60)
# A referrer who was not signed in reads their referral with a one-time emailed code
# (referrals/referrer_access.py).
REFERRER_CODE_TTL_SECONDS = env.int("REFERRER_CODE_TTL_SECONDS", default=10 * 60)
REFERRER_CODE_MAX_ATTEMPTS = env.int("REFERRER_CODE_MAX_ATTEMPTS", default=5)
REFERRER_ACCESS_SECONDS = env.int("REFERRER_ACCESS_SECONDS", default=30 * 60)
REFERRER_CODE_WINDOW_SECONDS = env.int("REFERRER_CODE_WINDOW_SECONDS", default=60 * 60)
REFERRER_CODE_SENDS_PER_ADDRESS = env.int("REFERRER_CODE_SENDS_PER_ADDRESS", default=10)
REFERRER_CODE_SENDS_PER_REFERRAL = env.int("REFERRER_CODE_SENDS_PER_REFERRAL", default=5)
REFERRER_CODE_TRIES_PER_ADDRESS = env.int("REFERRER_CODE_TRIES_PER_ADDRESS", default=20)

# A second factor for the admin (django-otp): off in the demo, on in production (production.py).
# Staff add an authenticator app under Admin > TOTP devices; the first one, before any device
# exists, signs in with a one-time code from `manage.py addstatictoken <username>`.
ADMIN_REQUIRE_OTP = env.bool("ADMIN_REQUIRE_OTP", default=False)
OTP_TOTP_ISSUER = "eReferral"

# Self-service password change and reset: the reset link works once, for this long.
PASSWORD_RESET_TIMEOUT = 60 * 60
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int("PASSWORD_RESET_LIMIT_PER_ADDRESS", default=5)
