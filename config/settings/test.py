"""Tests run on the local PostgreSQL server (trust auth), never on SQLite, with the HRM sandbox
installed (sandbox.py)."""

import tempfile

from .sandbox import *  # noqa: F403
from .sandbox import env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
DATABASES = {
    "default": env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/postgres"),
}
# seed_demo runs on the databases the test runner creates (test_…) and drops, never on another.
SEED_DEMO_ON_TEST_DATABASES = True
# Benchmarks give their worker processes production's persistent, checked connections.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Worker processes started by a test or a benchmark are told this folder through the environment.
PRIVATE_MEDIA_ROOT = env.str("PRIVATE_MEDIA_ROOT", default="") or tempfile.mkdtemp(
    prefix="ereferral-test-private-"
)
STORAGES = {
    **STORAGES,  # noqa: F405
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
}
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
STATIC_ROOT = tempfile.mkdtemp(prefix="ereferral-test-static-")
# HRM's health pauses dispatch when HRM is down (hrm/delivery/services/health.py): seconds,
# not minutes, in tests that stop the sandbox server, so they see it come back quickly.
HRM_HEALTH_FIRST_PAUSE_SECONDS = env.float("HRM_HEALTH_FIRST_PAUSE_SECONDS", default=0.5)
HRM_HEALTH_MAX_PAUSE_SECONDS = env.float("HRM_HEALTH_MAX_PAUSE_SECONDS", default=2)
