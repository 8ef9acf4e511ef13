"""The demo profile (`manage.py`'s default; `scripts/demo.sh` uses it): the HRM sandbox
installed (sandbox.py), a published secret key, SQLite in `var/` unless `DATABASE_URL` says
otherwise. Never for patient data: `seed_demo` and `check --deploy` on the production profile
refuse what this allows."""

from .sandbox import *  # noqa: F403
from .sandbox import VAR_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="insecure-demo-key-change-me-in-production-0123456789")
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server, worker, beat and sandbox share one SQLite file: write-ahead logging
    # and waiting for locks keep them from tripping over each other.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
