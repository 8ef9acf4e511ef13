"""The demo profile (`manage.py`'s default; `scripts/demo.sh` uses it): the HRM sandbox
installed (sandbox.py), a published secret key, and its own SQLite database (`var/demo.sqlite3`,
or the SQLite file `DATABASE_URL` names). Never for patient data: it refuses any other database,
so `manage.py` without a profile can neither serve nor seed a production one, and `check --deploy`
on the production profile refuses what this allows."""

from django.core.exceptions import ImproperlyConfigured

from .sandbox import *  # noqa: F403
from .sandbox import VAR_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="insecure-demo-key-change-me-in-production-0123456789")
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"),
}
_database = DATABASES["default"]
if _database["ENGINE"] != "django.db.backends.sqlite3":
    # A .env written for production (DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS) and `manage.py`
    # with no profile named: the demo's published key and logins must never meet that database.
    raise ImproperlyConfigured(
        "The demo profile (manage.py's default when DJANGO_SETTINGS_MODULE is not set) runs only "
        "on its own SQLite database, and DATABASE_URL names another: the "
        f"{_database['ENGINE'].rsplit('.', 1)[-1]} database {_database.get('NAME')!r} on "
        f"{_database.get('HOST') or 'localhost'!r}. For that database, set "
        "DJANGO_SETTINGS_MODULE=config.settings.production (for migrate, DATABASE_OWNER_URL "
        "too). For the demo, unset DATABASE_URL or name a SQLite file."
    )
# The demo's web server, worker, beat and sandbox share one SQLite file: write-ahead logging and
# waiting for locks keep them from tripping over each other.
_database["OPTIONS"] = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}
