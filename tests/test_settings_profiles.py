"""Settings start strict: the base profile has no secret key and no database, `manage.py` uses
the demo profile, and a web server or worker started without `DJANGO_SETTINGS_MODULE` runs on the
production profile, which refuses to start without its secrets (it never falls back to the demo's
published key, SQLite and folder transport)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    bare = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**bare, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("module", ["config.wsgi", "config.celery"])
def test_a_server_or_worker_without_settings_runs_on_production_and_wants_its_secrets(module):
    result = run(
        f"import {module}, django; django.setup(); from django.conf import settings; "
        "print(settings.SETTINGS_MODULE, settings.SECRET_KEY)"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr
    assert "insecure-demo-key" not in result.stdout + result.stderr


def test_the_base_profile_alone_has_no_secret_key_and_no_database():
    result = run(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE']); print(settings.SECRET_KEY)",
        DJANGO_SETTINGS_MODULE="config.settings.base",
    )
    # No database of its own, so no SQLite by default: Django's placeholder that refuses queries.
    assert result.stdout.splitlines()[0] == "django.db.backends.dummy"
    assert result.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in result.stderr


def test_manage_py_uses_the_demo_profile():
    bare = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c",
         "from django.conf import settings; print(settings.SETTINGS_MODULE, "
         "settings.DATABASES['default']['ENGINE'])"],
        cwd=ROOT, env=bare, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.demo", "django.db.backends.sqlite3"]
