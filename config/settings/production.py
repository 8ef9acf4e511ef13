"""Production profile: `DJANGO_SETTINGS_MODULE=config.settings.production`. Secrets must come from
the environment; `manage.py check --deploy` passes with these."""

import sys

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Two database roles (docs/security.md): the application connects as the runtime role, which may
# only INSERT and SELECT the access trail; `manage.py migrate` alone connects as the owner role,
# which owns every table. The runtime role is checked at start-up (audit/checks.py).
DATABASES = {"default": env.db("DATABASE_URL")}
ACCESS_TRAIL_ROLE_CHECK = env.bool("ACCESS_TRAIL_ROLE_CHECK", default=True)
if sys.argv[1:2] == ["migrate"] and env.str("DATABASE_OWNER_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_OWNER_URL")}
    ACCESS_TRAIL_ROLE_CHECK = False  # the owner owns the trail: that is the point
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection is checked before reuse, so a database restart costs no failed request or task.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# One JSON object per line for the log pipeline (LOG_FORMAT=plain for people).
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="json")  # noqa: F405

# /health/ and /metrics are answered before the HTTPS redirect and host validation, so a
# supervisor can call http://127.0.0.1:8000/health/ready without adding 127.0.0.1 to
# ALLOWED_HOSTS or turning SECURE_SSL_REDIRECT off (ops/endpoints.py).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list is a deliberate, hard-to-undo decision per domain, so it
# stays opt-in rather than a deploy-check failure.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_NAME = "__Secure-csrftoken"

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security and privacy (issue 12) -----------------------------------------------------------
# Staff sign in to the admin with a second factor (django-otp).
ADMIN_REQUIRE_OTP = env.bool("ADMIN_REQUIRE_OTP", default=True)
# The throttles' counters are shared by every web process: one Redis cache.
CACHES = {"default": env.cache("CACHE_URL", default="rediscache://127.0.0.1:6379/1")}
# Behind the HTTPS proxy (see SECURE_PROXY_SSL_HEADER): the one proxy that appends the client's
# address to X-Forwarded-For (docs/security.md). Set it to the number of proxies there are.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
