"""The checks behind ``/health/ready`` and ``manage.py worker_check``: each answers whether one
thing the product needs works now, and, for the operator only, why not.

A check never raises: a failure is a ``Check`` that is not ok, with the error's kind and text in
``detail`` (hostnames and paths included, so it is shown only to a caller with the health
token)."""

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ops.models import Heartbeat
from ops.services import BEAT


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def line(self, *, details: bool) -> str:
        line = f"{self.name} {'ok' if self.ok else 'failing'}"
        return f"{line}: {self.detail}" if details and self.detail else line


def _failure(name: str, error: BaseException) -> Check:
    # One line per check, whatever the error's text spans (psycopg's run over several).
    text = " ".join(str(error).split())
    return Check(name, False, f"{type(error).__name__}: {text}" if text else type(error).__name__)


def database_check() -> Check:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 — any failure is "not ready", said as it is
        # A broken connection is dropped, so the next check (or request) connects afresh.
        connection.close_if_unusable_or_obsolete()
        return _failure("database", error)
    return Check("database", True)


def broker_check() -> Check:
    """One round trip to the broker over a new connection (bounded by the broker's socket
    timeouts in CELERY_BROKER_TRANSPORT_OPTIONS)."""
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
            # The channel's creation pings Redis, on kombu's Redis transport.
            connection.default_channel  # noqa: B018 — opening it is the check
    except Exception as error:  # noqa: BLE001
        return _failure("broker", error)
    return Check("broker", True)


def storage_check() -> Check:
    """The private media (attachments) can be written, read and deleted."""
    storage = storages["default"]
    name = f"ops-ready/{uuid.uuid4().hex}.probe"
    try:
        saved = storage.save(name, ContentFile(b"ready"))
        try:
            with storage.open(saved) as probe:
                if probe.read() != b"ready":
                    return Check("storage", False, "the probe file read back differently")
        finally:
            storage.delete(saved)
    except Exception as error:  # noqa: BLE001
        return _failure("storage", error)
    return Check("storage", True)


def beat_heartbeat_age() -> timedelta | None:
    beat_at = Heartbeat.objects.filter(name=BEAT).values_list("beat_at", flat=True).first()
    return None if beat_at is None else timezone.now() - beat_at


def beat_check() -> Check:
    try:
        age = beat_heartbeat_age()
    except Exception as error:  # noqa: BLE001
        return _failure("beat", error)
    if age is None:
        return Check("beat", False, "no heartbeat yet")
    limit = settings.OPS_BEAT_HEARTBEAT_MAX_AGE_SECONDS
    if age.total_seconds() > limit:
        return Check("beat", False, f"last heartbeat {age.total_seconds():.0f} s ago (> {limit} s)")
    return Check("beat", True, f"last heartbeat {age.total_seconds():.0f} s ago")


def migrations_check() -> Check:
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # noqa: BLE001
        return _failure("migrations", error)
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        return Check("migrations", False, f"{len(plan)} not applied: {names}")
    return Check("migrations", True)


def readiness_checks() -> list[Check]:
    return [database_check(), broker_check(), storage_check(), beat_check(), migrations_check()]


_clock = time.monotonic
_recent: tuple[float, list[Check]] | None = None
_recent_lock = threading.Lock()


def readiness_checks_recent(*, max_age_seconds: float) -> list[Check]:
    """``readiness_checks()``, or this process's last run of them if it is younger than
    ``max_age_seconds`` (0: always a fresh run, which the next callers then share). Anyone may
    call /health/ready: without this, each call from outside would write a file, open a broker
    connection and query the database. Callers arriving while a run is under way wait for it
    rather than start their own."""
    global _recent
    with _recent_lock:
        if (
            _recent is not None
            and max_age_seconds > 0
            and 0 <= _clock() - _recent[0] < max_age_seconds
        ):
            return _recent[1]
        checks = readiness_checks()
        _recent = (_clock(), checks)
        return checks


def worker_checks() -> list[Check]:
    return [database_check(), broker_check()]
