"""Shared set-up for the benchmarks: a throwaway PostgreSQL database with the schema migrated,
Django configured against it, and the repository importable. Everything is removed at the end."""

import contextlib
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))


def _drop(connection, name: str) -> None:
    from psycopg import sql

    connection.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


@contextlib.contextmanager
def throwaway_django(name: str, **environment: str):
    """Create database ``name``, point Django's test settings at it (plus ``environment``), set
    Django up and migrate; drop the database on the way out."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(SERVER_URL, autocommit=True) as server:
        _drop(server, name)
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        TEST_DATABASE_URL=database_url(name),
        **environment,
    )
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield database_url(name)
    finally:
        from django import db

        db.connections.close_all()
        with psycopg.connect(SERVER_URL, autocommit=True) as server:
            _drop(server, name)
