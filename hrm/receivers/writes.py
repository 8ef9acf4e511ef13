"""The receiver rows an import writes, in bulk: one function, two ways.

``receivers_write`` takes PostgreSQL's fast path (``COPY`` for new receivers, one ``UPDATE ...
FROM unnest(...)`` for renamed and returning ones) and the portable ORM path everywhere else
(SQLite in the demo). Both leave the same rows: ``tests/hrm/test_receiver_writes.py`` runs
both on PostgreSQL. Django's public API only: ``connection.cursor()`` and its ``copy()``, which
Django records like any statement. Bulk writes skip ``save()`` and signals; nothing relies on
either, and ``updated_at`` is set by hand for that reason.
"""

from collections.abc import Sequence

from django.db import connection
from psycopg import sql

from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers.list_file import ReceiverRow

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


def receivers_write(
    *,
    added: Sequence[ReceiverRow],
    updated: Sequence[tuple[int, ReceiverRow]],
    removed_ids: Sequence[int],
    receiver_import: ReceiverImport,
    now,
    fast: bool | None = None,
) -> None:
    """Create ``added``, rename or re-activate ``updated`` (stored pk, row), deactivate
    ``removed_ids``, all marked with ``receiver_import``. ``fast`` chooses the path (default: the
    fast one on PostgreSQL); only the contract test sets it."""
    if fast is None:
        fast = connection.vendor == "postgresql"
    writes = _PostgresWrites() if fast else _OrmWrites()
    writes.insert(added, receiver_import, now)
    writes.update(updated, receiver_import, now)
    for start in range(0, len(removed_ids), _REMOVE_BATCH_SIZE):
        HrmReceiver.objects.filter(pk__in=removed_ids[start : start + _REMOVE_BATCH_SIZE]).update(
            is_active=False,
            deactivated_at=now,
            updated_by_import=receiver_import,
            updated_at=now,
        )


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
        # As text, so Django's record of the statements (CaptureQueriesContext) shows it.
        with connection.cursor() as cursor, cursor.copy(statement.as_string()) as copy:
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
                statement.as_string(),
                [
                    receiver_import.pk,
                    now,
                    [pk for pk, _ in rows],
                    [row.first_name for _, row in rows],
                    [row.last_name for _, row in rows],
                ],
            )
