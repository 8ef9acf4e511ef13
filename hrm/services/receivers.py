"""Writes on OntarioMD's list of approved HRM receivers: importing the complete current list.

One import is one transaction. Imports are serialised by a transaction-level advisory lock on
PostgreSQL, so two support staff applying files at once cannot interleave their changes; each
compares its file with the list as the other left it. (SQLite, used by the demo, lets one writer
in at a time anyway, so there it is a no-op.)

Writes are in bulk: a first import of 50,000 receivers is a handful of statements, and
re-importing the same file writes nothing to the receivers at all. Bulk writes skip ``save()``
and signals; nothing here relies on either, and ``updated_at`` is set by hand for that reason.
"""

import getpass
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from directory.models import User
from hrm.models import HrmReceiver, ReceiverImport
from hrm.receiver_list import ReceiverRow, receiver_list_diff, receiver_list_parse
from hrm.selectors.receivers import ReceiverListPreview, receiver_list_preview

# Any constant 64-bit number works; this one spells "HRM_RCVR" so it is recognisable in
# pg_locks.
_LOCK_KEY = int.from_bytes(b"HRM_RCVR", "big")
_BATCH_SIZE = 2000
# Comma-separated IDs in one UPDATE ... WHERE id IN (...): big enough to need few statements,
# small enough to keep each statement's text modest.
_REMOVE_BATCH_SIZE = 10_000
_UPDATED_FIELDS = [
    "first_name",
    "last_name",
    "is_active",
    "deactivated_at",
    "updated_by_import",
    "updated_at",
]


class ReceiverImportError(Exception):
    """An import that cannot be applied as it stands; ``preview`` is what it would do now."""

    def __init__(self, message: str, preview: ReceiverListPreview):
        self.preview = preview
        super().__init__(message)


class MassRemovalError(ReceiverImportError):
    """The file would remove more than 10 % of the active receivers and nobody confirmed it."""


class ReceiverListChangedError(ReceiverImportError):
    """The active list changed since the preview that was confirmed."""


@dataclass(frozen=True, slots=True)
class ReceiverImportResult:
    preview: ReceiverListPreview
    # The record of the import; ``None`` for a dry run, which changes nothing.
    receiver_import: ReceiverImport | None
    dry_run: bool = False

    @property
    def summary(self) -> str:
        """``added=A removed=R changed=C unchanged=U``, with `` (dry run)`` after a dry run."""
        return self.preview.diff.summary() + (" (dry run)" if self.dry_run else "")


def receiver_list_import(
    *,
    content: bytes,
    file_name: str,
    actor: User | None = None,
    actor_name: str = "",
    dry_run: bool = False,
    allow_mass_removal: bool = False,
) -> ReceiverImportResult:
    """Import a complete receiver list in one step (the management command and the benchmark).

    Raises ``ReceiverListError`` for a file that cannot be trusted, ``MassRemovalError`` when it
    would remove more than 10 % of the active receivers without ``allow_mass_removal``. A dry
    run raises the same errors as the real import would, and writes nothing.
    """
    rows = receiver_list_parse(content, file_name)
    if dry_run:
        preview = receiver_list_preview(rows)
        _check_mass_removal(preview, allow_mass_removal)
        return ReceiverImportResult(preview=preview, receiver_import=None, dry_run=True)
    receiver_import = ReceiverImport(
        uploaded_by=actor,
        uploaded_by_name=actor_name or (str(actor) if actor else _command_actor_name()),
        file_name=file_name,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )
    return _apply(rows, receiver_import, allow_mass_removal=allow_mass_removal)


def receiver_import_create(*, content: bytes, file_name: str, actor: User) -> ReceiverImport:
    """Store an upload for preview (the admin's first step). Nothing changes in the receivers.

    Raises ``ReceiverListError`` and stores nothing when the file cannot be imported. The counts
    stored are those of the preview; applying records the counts it actually applied.
    """
    rows = receiver_list_parse(content, file_name)
    preview = receiver_list_preview(rows)
    return ReceiverImport.objects.create(
        uploaded_by=actor,
        uploaded_by_name=str(actor),
        file_name=file_name,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        status=ReceiverImport.Status.PREVIEWED,
        **_counts(preview),
    )


def receiver_import_apply(
    *,
    receiver_import: ReceiverImport,
    actor: User,
    expected_fingerprint: str,
    allow_mass_removal: bool = False,
) -> ReceiverImportResult:
    """Apply a previewed upload (the admin's confirm step).

    ``expected_fingerprint`` is the preview's ``fingerprint`` that the person confirmed; if the
    active list changed since (another import), ``ReceiverListChangedError`` carries the new
    preview and nothing changes.
    """
    with transaction.atomic():
        _lock_receiver_list()
        locked = ReceiverImport.objects.select_for_update().get(pk=receiver_import.pk)
        _check_open(locked, actor)
        rows = receiver_list_parse(bytes(locked.content), locked.file_name)
        return _apply(
            rows,
            locked,
            allow_mass_removal=allow_mass_removal,
            expected_fingerprint=expected_fingerprint,
        )


def receiver_import_discard(*, receiver_import: ReceiverImport, actor: User) -> ReceiverImport:
    """Drop a previewed upload without applying it; the record stays."""
    with transaction.atomic():
        locked = ReceiverImport.objects.select_for_update().get(pk=receiver_import.pk)
        _check_open(locked, actor)
        locked.status = ReceiverImport.Status.DISCARDED
        locked.save(update_fields=["status"])
    return locked


def _check_open(receiver_import: ReceiverImport, actor: User) -> None:
    if receiver_import.status != ReceiverImport.Status.PREVIEWED:
        raise ValidationError(
            f"This upload was already {receiver_import.get_status_display().lower()}."
        )
    # The record names one person; whoever uploads the file is the one who confirms it.
    if receiver_import.uploaded_by_id != actor.pk:
        raise PermissionDenied(
            f"Only {receiver_import.uploaded_by_name}, who uploaded this file, can apply or "
            "discard it. Upload the file yourself to import it."
        )


def _apply(
    rows: Sequence[ReceiverRow],
    receiver_import: ReceiverImport,
    *,
    allow_mass_removal: bool,
    expected_fingerprint: str | None = None,
) -> ReceiverImportResult:
    with transaction.atomic():
        _lock_receiver_list()
        # Every receiver, active or not: a receiver who reappears is re-activated, not created
        # again (the Professional ID is unique).
        held = {
            professional_id: (pk, first, last, is_active)
            for pk, professional_id, first, last, is_active in HrmReceiver.objects.values_list(
                "pk", "professional_id", "first_name", "last_name", "is_active"
            )
        }
        active = {
            pid: (first, last) for pid, (_, first, last, is_active) in held.items() if is_active
        }
        preview = ReceiverListPreview(
            rows=tuple(rows), diff=receiver_list_diff(rows, active), active_count=len(active)
        )
        if expected_fingerprint is not None and preview.fingerprint != expected_fingerprint:
            raise ReceiverListChangedError(
                "The receiver list changed since this preview (another import was applied). "
                "Check what applying would do now and confirm again.",
                preview,
            )
        _check_mass_removal(preview, allow_mass_removal)

        now = timezone.now()
        receiver_import.status = ReceiverImport.Status.APPLIED
        receiver_import.applied_at = now
        # Set only when the override was needed and used, so the records flag exactly the
        # imports that removed more than 10 % on someone's say-so.
        receiver_import.allowed_mass_removal = preview.is_mass_removal
        for name, value in _counts(preview).items():
            setattr(receiver_import, name, value)
        receiver_import.save()

        diff = preview.diff
        new_rows = [row for row in diff.added if row.professional_id not in held]
        # Renamed receivers, and removed ones who are back on the list (counted as added).
        updated_rows = [row for row in diff.added if row.professional_id in held]
        updated_rows += [change.row for change in diff.changed]
        writes = _PostgresWrites() if _use_postgres_writes() else _OrmWrites()
        writes.insert(new_rows, receiver_import, now)
        writes.update(
            [(held[row.professional_id][0], row) for row in updated_rows], receiver_import, now
        )
        removed_ids = [held[gone.professional_id][0] for gone in diff.removed]
        for start in range(0, len(removed_ids), _REMOVE_BATCH_SIZE):
            HrmReceiver.objects.filter(
                pk__in=removed_ids[start : start + _REMOVE_BATCH_SIZE]
            ).update(
                is_active=False,
                deactivated_at=now,
                updated_by_import=receiver_import,
                updated_at=now,
            )
    return ReceiverImportResult(preview=preview, receiver_import=receiver_import)


def _use_postgres_writes() -> bool:
    return connection.vendor == "postgresql"


class _OrmWrites:
    """Portable bulk writes (SQLite in the demo)."""

    def insert(self, rows: Sequence[ReceiverRow], receiver_import: ReceiverImport, now) -> None:
        HrmReceiver.objects.bulk_create(
            [
                HrmReceiver(
                    professional_id=row.professional_id,
                    first_name=row.first_name,
                    last_name=row.last_name,
                    is_active=True,
                    added_by_import=receiver_import,
                    updated_by_import=receiver_import,
                )
                for row in rows
            ],
            batch_size=_BATCH_SIZE,
        )

    def update(
        self, rows: Sequence[tuple[int, ReceiverRow]], receiver_import: ReceiverImport, now
    ) -> None:
        HrmReceiver.objects.bulk_update(
            [
                HrmReceiver(
                    pk=pk,
                    first_name=row.first_name,
                    last_name=row.last_name,
                    is_active=True,
                    deactivated_at=None,
                    updated_by_import=receiver_import,
                    updated_at=now,
                )
                for pk, row in rows
            ],
            _UPDATED_FIELDS,
            batch_size=_BATCH_SIZE,
        )


class _PostgresWrites:
    """The same writes, for PostgreSQL, without building a model instance and quoting nine values
    per receiver: ``bulk_create`` spent most of a 50,000-row first import on exactly that (2.5 s
    of 3 s, measured), ``COPY`` takes a fraction of it. Renames go in one ``UPDATE ... FROM
    unnest(...)`` rather than ``bulk_update``'s ``CASE`` per row, so a list where OntarioMD
    re-spelled every name is as quick as one where nothing changed."""

    def insert(self, rows: Sequence[ReceiverRow], receiver_import: ReceiverImport, now) -> None:
        if not rows:
            return
        meta = HrmReceiver._meta
        columns = [
            meta.get_field(name).column
            for name in (
                "professional_id",
                "first_name",
                "last_name",
                "is_active",
                "added_by_import",
                "updated_by_import",
                "created_at",
                "updated_at",
            )
        ]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row.professional_id,
                        row.first_name,
                        row.last_name,
                        True,
                        receiver_import.pk,
                        receiver_import.pk,
                        now,
                        now,
                    )
                )

    def update(
        self, rows: Sequence[tuple[int, ReceiverRow]], receiver_import: ReceiverImport, now
    ) -> None:
        if not rows:
            return
        meta = HrmReceiver._meta
        column = {name: sql.Identifier(meta.get_field(name).column) for name in _UPDATED_FIELDS}
        statement = sql.SQL(
            "UPDATE {table} SET {first_name} = v.first_name, {last_name} = v.last_name, "
            "{is_active} = TRUE, {deactivated_at} = NULL, {updated_by_import} = %s, "
            "{updated_at} = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, first_name, last_name) "
            "WHERE {table}.{pk} = v.id"
        ).format(table=sql.Identifier(meta.db_table), pk=sql.Identifier(meta.pk.column), **column)
        with connection.cursor() as cursor:
            cursor.execute(
                statement.as_string(cursor.connection),
                [
                    receiver_import.pk,
                    now,
                    [pk for pk, _ in rows],
                    [row.first_name for _, row in rows],
                    [row.last_name for _, row in rows],
                ],
            )


def _check_mass_removal(preview: ReceiverListPreview, allow_mass_removal: bool) -> None:
    if preview.is_mass_removal and not allow_mass_removal:
        raise MassRemovalError(
            f"This list would remove {preview.diff.removed_count} of the {preview.active_count} "
            f"active receivers ({preview.removed_percent} %), more than the 10 % an import may "
            "remove without an explicit confirmation. A truncated or wrong file looks like "
            "this; check the file.",
            preview,
        )


def _counts(preview: ReceiverListPreview) -> dict[str, int]:
    diff = preview.diff
    return {
        "added": diff.added_count,
        "removed": diff.removed_count,
        "changed": diff.changed_count,
        "unchanged": diff.unchanged_count,
    }


def _lock_receiver_list() -> None:
    """Hold the receiver-list lock until the surrounding transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _command_actor_name() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        who = "unknown user"
    return f"{who} (manage.py import_hrm_receivers)"
