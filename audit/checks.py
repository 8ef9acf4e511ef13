"""The runtime database role must not be able to erase the access trail: it may INSERT and
SELECT it, and nothing more. A Django system check (``manage.py check --database default``, run
by ``migrate`` too) and a start-up refusal (``config/wsgi.py``, the Celery worker) both use
``trail_role_errors``. On with ``ACCESS_TRAIL_ROLE_CHECK`` (the production profile's default; the
settings turn it off for ``migrate``, which connects as the owner role)."""

import logging

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

HINT = (
    "Run migrations as the owner role (DATABASE_OWNER_URL) and the application as a runtime role "
    "that owns nothing (DATABASE_URL); scripts/db_roles.sh creates both and grants the runtime "
    "role what it needs (docs/security.md, 'Two database roles')."
)

_ROLE_AND_TRAIL = """
SELECT current_user,
       role.rolsuper,
       pg_get_userbyid(trail.relowner),
       pg_has_role(current_user, trail.relowner, 'USAGE'),
       has_table_privilege(trail.oid, 'UPDATE'),
       has_table_privilege(trail.oid, 'DELETE'),
       has_table_privilege(trail.oid, 'TRUNCATE'),
       has_table_privilege(trail.oid, 'TRIGGER')
FROM pg_roles AS role
LEFT JOIN pg_class AS trail ON trail.oid = to_regclass(%s)
WHERE role.rolname = current_user
"""


def trail_role_errors(alias: str = DEFAULT_DB_ALIAS) -> list[checks.CheckMessage]:
    """What the connection's role can do to the trail beyond INSERT and SELECT, as errors."""
    from .models import AccessEntry

    connection = connections[alias]
    if not getattr(settings, "ACCESS_TRAIL_ROLE_CHECK", False):
        return []
    if connection.vendor != "postgresql":  # the demo's SQLite: no roles at all
        return []
    table = AccessEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(_ROLE_AND_TRAIL, [table])
        row = cursor.fetchone()
    role, superuser, owner, acts_as_owner, *privileges = row
    if superuser:
        return [
            checks.Error(
                f"The application's database role '{role}' is a superuser: it can truncate the "
                f"access trail ({table}) and disable its trigger.",
                hint=HINT,
                id="audit.E001",
            )
        ]
    if owner is None:  # not migrated yet: nothing to protect
        return []
    if acts_as_owner:
        through = "" if owner == role else f", through its membership of '{owner}',"
        return [
            checks.Error(
                f"The application's database role '{role}'{through} owns the access trail "
                f"({table}, owned by '{owner}'): it can truncate it, drop it and disable its "
                "trigger.",
                hint=HINT,
                id="audit.E002",
            )
        ]
    allowed = [
        name
        for name, granted in zip(
            ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"), privileges, strict=True
        )
        if granted
    ]
    if allowed:
        return [
            checks.Error(
                f"The application's database role '{role}' may {', '.join(allowed)} the access "
                f"trail ({table}, owned by '{owner}'): it must only INSERT and SELECT.",
                hint=f"REVOKE {', '.join(allowed)} ON {table} FROM {role}; as the owner. " + HINT,
                id="audit.E003",
            )
        ]
    return []


@checks.register(checks.Tags.database, checks.Tags.security)
def trail_role_check(app_configs, databases=None, **kwargs):
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    return trail_role_errors()


def trail_role_or_refuse() -> None:
    """At start-up: refuse to serve when the runtime role can erase the trail. A database that
    cannot be reached yet is no reason to refuse (the next start checks again)."""
    try:
        errors = trail_role_errors()
    except DatabaseError as unreachable:
        logger.warning("Could not check the database role against the trail: %s", unreachable)
        return
    finally:
        connections[DEFAULT_DB_ALIAS].close()
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint}")


def roles_check_off_warning(app_configs, **kwargs):
    if getattr(settings, "ACCESS_TRAIL_ROLE_CHECK", False):
        return []
    return [
        checks.Warning(
            "Nothing checks that the application's database role cannot erase the access trail.",
            hint="Set ACCESS_TRAIL_ROLE_CHECK=true (the production profile's default).",
            id="audit.W001",
        )
    ]
