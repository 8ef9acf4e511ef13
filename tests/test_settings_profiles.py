"""Settings start strict: the base profile has no secret key and no database, `manage.py` uses
the demo profile, and a web server or worker started without `DJANGO_SETTINGS_MODULE` runs on the
production profile, which refuses to start without its secrets (it never falls back to the demo's
published key, SQLite and folder transport). The HRM sandbox is installed by the demo and test
profiles only: production has none of it, runs without its code and its extra, and refuses it."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import resolve

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


# --- The HRM sandbox: demo and tests only --------------------------------------------------------

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "a-long-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "ereferral.example",
    "DATABASE_URL": "sqlite:///:memory:",
}
PRODUCT_PACKAGES = ("config", "directory", "audit", "referrals", "hrm", "security")
# What production must run without: the sandbox's code and the extra it needs.
SANDBOX_MODULES = ("sandbox", "asyncssh")
SANDBOX_SEEN = """
import json, django
from django.conf import settings
from django.urls import Resolver404, resolve
django.setup()
processors = [p for t in settings.TEMPLATES for p in t["OPTIONS"].get("context_processors", [])]
try:
    resolve("/sandbox/emr/")
    urls = True
except Resolver404:
    urls = False
print(json.dumps({
    "apps": [app for app in settings.INSTALLED_APPS if app.split(".")[0] == "sandbox"],
    "processors": [p for p in processors if p.startswith("sandbox.")],
    "urls": urls,
    "settings": sorted(name for name in dir(settings) if name.startswith("HRM_SANDBOX")),
}))
"""


# Every product module, after SANDBOX_SEEN (the other settings profiles are not production's).
IMPORT_THE_PRODUCT = f"""
import importlib, pkgutil
for package in {PRODUCT_PACKAGES!r}:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        if not module.name.startswith("config.settings."):
            importlib.import_module(module.name)
"""


def test_production_has_no_sandbox_app_context_processor_urls_or_settings():
    # The sandbox and asyncssh cannot be imported at all here.
    blocked = "import sys\n" + "".join(
        f"sys.modules[{name!r}] = None\n" for name in SANDBOX_MODULES
    )
    result = run(blocked + SANDBOX_SEEN + IMPORT_THE_PRODUCT, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    nothing = {"apps": [], "processors": [], "urls": False, "settings": []}
    assert json.loads(result.stdout) == nothing


def test_the_demo_profile_installs_the_sandbox():
    result = run(SANDBOX_SEEN, DJANGO_SETTINGS_MODULE="config.settings.demo")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["apps"] == ["sandbox"]
    assert seen["processors"] == ["sandbox.context_processors.sandbox"]
    assert seen["urls"] is True
    assert "HRM_SANDBOX_DIR" in seen["settings"] and "HRM_SANDBOX_ALLOWED" in seen["settings"]


def test_the_test_profile_installs_the_sandbox():
    assert "sandbox" in settings.INSTALLED_APPS
    assert resolve("/sandbox/emr/").namespace == "hrm_sandbox"


def test_settings_built_on_production_cannot_enable_the_sandbox(tmp_path):
    (tmp_path / "site_settings.py").write_text(
        "from config.settings.production import *  # noqa: F403\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'sandbox']  # noqa: F405\n"
    )
    result = run(
        "import django; django.setup()",
        **{**PRODUCTION, "DJANGO_SETTINGS_MODULE": "site_settings", "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: The HRM sandbox" in result.stderr
    assert "is for the demo and the tests only and never runs with the production profile" in (
        result.stderr
    )


def test_no_product_module_imports_the_sandbox():
    """Dependencies run one way: the sandbox may import the product, never the other way round
    (only the demo and test settings name it, as an app and a URLconf)."""
    importers = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                if any(name.split(".")[0] in SANDBOX_MODULES for name in names):
                    importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importers == []
