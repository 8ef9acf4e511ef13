"""Reads on OntarioMD's list of approved HRM receivers: whether a listing is live on HRM, and what
importing a receiver list would change.

A listing is live on HRM when its Clinician Information has a first name, a surname and a
Professional ID, and that Professional ID is on the active list under the same names (ignoring
case and accents). Everything here answers in plain words, because the people who read the
answer (a clinician on the listing settings page, a sender wondering why no HRM copy went out)
have to fix it themselves.
"""

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from psycopg import sql

from directory.models import Listing
from directory.professional_id import professional_id_display
from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers.list_diff import ReceiverDiff, is_mass_removal, names_match, receiver_list_diff
from hrm.receivers.list_file import ReceiverRow, receiver_list_parse

# --- Live on HRM -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """Whether one listing is live on HRM, and if not, every reason why, in plain words."""

    LIVE_TEXT: ClassVar[str] = "This clinician uses HRM"

    is_live: bool
    reasons: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.LIVE_TEXT if self.is_live else " ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class _ListedReceiver:
    first_name: str
    last_name: str
    is_active: bool
    deactivated_at: object


def listings_live_on_hrm(listings: Iterable[Listing]) -> dict[int, LiveStatus]:
    """``{listing id: LiveStatus}`` for every listing given, in one query whatever their number.

    Give loaded listings (e.g. a referral's stakeholders) and the receivers are read in one
    query; give a ``QuerySet`` and the receivers are joined into that single query instead.
    """
    if isinstance(listings, QuerySet):
        return _live_statuses_from_queryset(listings)
    listings = list(listings)
    professional_ids = {
        listing.clinician_professional_id
        for listing in listings
        if listing.clinician_professional_id
    }
    receivers: dict[str, _ListedReceiver] = {}
    if professional_ids:
        rows = _receivers_listed(professional_ids)
        receivers = {row[0]: _ListedReceiver(*row[1:]) for row in rows}
    return {
        listing.pk: _live_status(listing, receivers.get(listing.clinician_professional_id))
        for listing in listings
    }


_LISTED = ("professional_id", "first_name", "last_name", "is_active", "deactivated_at")


def _receivers_listed(professional_ids: set[str]) -> list[tuple]:
    """``_LISTED`` of the receivers with these Professional IDs. Every Send with a stakeholder
    that has one asks: on PostgreSQL, one plain statement rendered once (0.3–0.4 ms against
    0.7–0.8 through the ORM, measured on a busy 2-core machine). Both ways run on PostgreSQL in
    ``tests/hrm/test_fast_path_twins.py``."""
    if connection.vendor == "postgresql":
        return _receivers_listed_postgresql(professional_ids)
    return _receivers_listed_orm(professional_ids)


def _receivers_listed_orm(professional_ids: set[str]) -> list[tuple]:
    return list(
        HrmReceiver.objects.filter(professional_id__in=professional_ids).values_list(*_LISTED)
    )


def _receivers_listed_postgresql(professional_ids: set[str]) -> list[tuple]:
    field = HrmReceiver._meta.get_field("professional_id")
    with connection.cursor() as cursor:
        cursor.execute(
            _receivers_statement(), [sorted({field.get_prep_value(p) for p in professional_ids})]
        )
        return cursor.fetchall()


@functools.cache
def _receivers_statement() -> str:
    meta = HrmReceiver._meta
    return (
        sql.SQL("SELECT {columns} FROM {table} WHERE {professional_id} = ANY(%s)")
        .format(
            columns=sql.SQL(", ").join(
                sql.Identifier(meta.get_field(name).column) for name in _LISTED
            ),
            table=sql.Identifier(meta.db_table),
            professional_id=sql.Identifier(meta.get_field("professional_id").column),
        )
        .as_string()
    )


def listing_is_live_on_hrm(listing: Listing) -> LiveStatus:
    """Whether one listing is live on HRM (one query at most)."""
    return listings_live_on_hrm([listing])[listing.pk]


def _live_statuses_from_queryset(listings: QuerySet) -> dict[int, LiveStatus]:
    # Professional IDs are unique among receivers, so each subquery finds at most one row and
    # PostgreSQL answers it from the unique index.
    receiver = HrmReceiver.objects.filter(professional_id=OuterRef("clinician_professional_id"))
    annotated = listings.annotate(
        **{
            f"_hrm_{field}": Subquery(receiver.values(field)[:1])
            for field in ("first_name", "last_name", "is_active", "deactivated_at")
        }
    )
    statuses = {}
    for listing in annotated:
        listed = None
        if listing._hrm_is_active is not None:
            listed = _ListedReceiver(
                listing._hrm_first_name,
                listing._hrm_last_name,
                listing._hrm_is_active,
                listing._hrm_deactivated_at,
            )
        statuses[listing.pk] = _live_status(listing, listed)
    return statuses


def _live_status(listing: Listing, receiver: _ListedReceiver | None) -> LiveStatus:
    first_name = listing.clinician_first_name.strip()
    surname = listing.clinician_surname.strip()
    professional_id = listing.clinician_professional_id
    reasons = []

    missing = [
        label
        for label, value in (
            ("first name", first_name),
            ("surname", surname),
            ("Professional ID", professional_id),
        )
        if not value
    ]
    if missing:
        who = listing.clinician_name or str(listing)
        reasons.append(f"{who} has no {_words(missing)} in Clinician Information.")

    if professional_id:
        shown = professional_id_display(professional_id)
        if receiver is None:
            reasons.append(f"{shown} is not on OntarioMD's list of approved HRM receivers.")
        elif not receiver.is_active:
            when = ""
            if receiver.deactivated_at:
                day = timezone.localdate(receiver.deactivated_at)
                when = f" on {date_format(day, 'j F Y')}"
            reasons.append(
                f"{shown} was removed from OntarioMD's list of approved HRM receivers{when}."
            )
        elif first_name and surname:
            if not names_match(first_name, surname, receiver.first_name, receiver.last_name):
                reasons.append(
                    f"The names in Clinician Information ({first_name} {surname}) do not match "
                    f"OntarioMD's list ({receiver.first_name} {receiver.last_name})."
                )
        else:
            # The clinician may simply not know how OntarioMD spells their name; say it.
            reasons.append(
                f"OntarioMD's list has {receiver.first_name} {receiver.last_name} for {shown}."
            )
    return LiveStatus(is_live=not reasons, reasons=tuple(reasons))


def _words(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


# --- What an import would change -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiverListPreview:
    """A parsed receiver list compared with the active receivers at one moment."""

    rows: tuple[ReceiverRow, ...]
    diff: ReceiverDiff
    active_count: int

    @property
    def is_mass_removal(self) -> bool:
        return is_mass_removal(self.diff, self.active_count)

    @property
    def removed_percent(self) -> str:
        if not self.active_count:
            return "0"
        return f"{100 * self.diff.removed_count / self.active_count:.1f}".removesuffix(".0")

    @property
    def fingerprint(self) -> str:
        """Identifies exactly what applying would do, so a confirmation given on a preview can
        be checked against what applying would do now."""
        return receiver_diff_fingerprint(self.diff)


def receivers_active_names() -> dict[str, tuple[str, str]]:
    """The active receivers, as ``receiver_list_diff`` wants them: ``{D12345: (first, last)}``."""
    rows = HrmReceiver.objects.filter(is_active=True).values_list(
        "professional_id", "first_name", "last_name"
    )
    return {professional_id: (first, last) for professional_id, first, last in rows}


def receiver_list_preview(rows: Iterable[ReceiverRow]) -> ReceiverListPreview:
    """Compare parsed rows with the receivers active now."""
    rows = tuple(rows)
    active = receivers_active_names()
    return ReceiverListPreview(
        rows=rows, diff=receiver_list_diff(rows, active), active_count=len(active)
    )


def receiver_import_preview(receiver_import: ReceiverImport) -> ReceiverListPreview:
    """What applying a stored upload would do now. Raises ``ReceiverListError`` only if the
    stored file no longer parses (it parsed when it was uploaded)."""
    rows = receiver_list_parse(bytes(receiver_import.content), receiver_import.file_name)
    return receiver_list_preview(rows)


def receiver_diff_fingerprint(diff: ReceiverDiff) -> str:
    digest = hashlib.sha256()
    for row in diff.added:
        digest.update(f"+\t{row.professional_id}\t{row.first_name}\t{row.last_name}\n".encode())
    for gone in diff.removed:
        digest.update(f"-\t{gone.professional_id}\n".encode())
    for change in diff.changed:
        row = change.row
        digest.update(
            f"~\t{row.professional_id}\t{change.previous_first_name}\t{change.previous_last_name}"
            f"\t{row.first_name}\t{row.last_name}\n".encode()
        )
    digest.update(f"={diff.unchanged_count}\n".encode())
    return digest.hexdigest()
