"""The contract of ``receivers_write``: PostgreSQL's fast path and the portable ORM path (the
demo's SQLite) leave exactly the same receivers."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers.list_file import ReceiverRow
from hrm.receivers.writes import receivers_write

COMPARED = [
    "professional_id",
    "first_name",
    "last_name",
    "is_active",
    "deactivated_at",
    "added_by_import_id",
    "updated_by_import_id",
    "updated_at",
]


def _import(name: str) -> ReceiverImport:
    return ReceiverImport.objects.create(
        uploaded_by_name="support", file_name=name, sha256="0" * 64, content=b""
    )


def _receivers() -> list[tuple]:
    return list(HrmReceiver.objects.order_by("professional_id").values_list(*COMPARED))


def _write(fast: bool, receiver_import: ReceiverImport, now) -> list[tuple]:
    held = dict(HrmReceiver.objects.values_list("professional_id", "pk"))
    receivers_write(
        added=[
            ReceiverRow("D3", "Zoë", "Lefèvre-D’Amour", 2),
            ReceiverRow("N1234567", "Grace", "O'Kafor", 3),
        ],
        updated=[
            (held["D1"], ReceiverRow("D1", "Ann", "Smith-Jones", 4)),  # renamed
            (held["D4"], ReceiverRow("D4", "Back", "Again", 5)),  # removed earlier, returns
        ],
        removed_ids=[held["D2"]],
        receiver_import=receiver_import,
        now=now,
        fast=fast,
    )
    return _receivers()


@pytest.mark.django_db
def test_the_fast_and_the_portable_writes_leave_the_same_receivers():
    first = _import("first.csv")
    earlier = timezone.now() - timedelta(days=30)
    for pid, first_name, last_name, active in [
        ("D1", "Ann", "Smith", True),
        ("D2", "Bo", "Chen", True),
        ("D4", "Back", "Again", False),
    ]:
        HrmReceiver.objects.create(
            professional_id=pid,
            first_name=first_name,
            last_name=last_name,
            is_active=active,
            deactivated_at=None if active else earlier,
            added_by_import=first,
            updated_by_import=first,
        )
    second = _import("second.csv")
    now = timezone.now()

    results = {}
    for fast in (True, False):
        with transaction.atomic():
            results[fast] = _write(fast, second, now)
            transaction.set_rollback(True)

    # Added rows take their creation time from the database write itself on the ORM path
    # (auto_now): the same import, milliseconds apart. Everything else is identical.
    for fast_row, portable_row in zip(results[True], results[False], strict=True):
        assert fast_row[:-1] == portable_row[:-1]
        if fast_row[0] == "D3" or fast_row[0] == "N1234567":
            assert abs(fast_row[-1] - portable_row[-1]) < timedelta(seconds=5)
        else:
            assert fast_row[-1] == portable_row[-1] == now
    by_id = {row[0]: row for row in results[True]}
    assert by_id["D1"][1:5] == ("Ann", "Smith-Jones", True, None)
    assert by_id["D2"][3:5] == (False, now)
    assert by_id["D3"][1:4] == ("Zoë", "Lefèvre-D’Amour", True)
    assert by_id["D3"][5:7] == (second.pk, second.pk)
    assert by_id["D4"][3:5] == (True, None)
    assert all(row[6] == second.pk for row in results[True])
