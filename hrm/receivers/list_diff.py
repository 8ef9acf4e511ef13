"""Compare a parsed receiver list with the receivers we hold, and match names loosely.

Nothing here touches the database: the import service turns a ``ReceiverDiff`` into model changes.
"""

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from hrm.receivers.list_file import PROFESSIONAL_ID, ReceiverRow


@dataclass(frozen=True, slots=True)
class ActiveReceiver:
    """A receiver we hold that the new list leaves out."""

    professional_id: str
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class ReceiverChange:
    """A receiver still on the list under a different name."""

    row: ReceiverRow
    previous_first_name: str
    previous_last_name: str

    @property
    def professional_id(self) -> str:
        return self.row.professional_id


@dataclass(frozen=True, slots=True)
class ReceiverDiff:
    """What importing a receiver list would do to the active receivers.

    ``added``, ``changed`` and ``unchanged`` follow the file's order; ``removed`` is sorted by
    Professional ID.
    """

    added: tuple[ReceiverRow, ...]
    removed: tuple[ActiveReceiver, ...]
    changed: tuple[ReceiverChange, ...]
    unchanged: tuple[ReceiverRow, ...]

    @property
    def added_count(self) -> int:
        return len(self.added)

    @property
    def removed_count(self) -> int:
        return len(self.removed)

    @property
    def changed_count(self) -> int:
        return len(self.changed)

    @property
    def unchanged_count(self) -> int:
        return len(self.unchanged)

    def summary(self) -> str:
        return (
            f"added={self.added_count} removed={self.removed_count} "
            f"changed={self.changed_count} unchanged={self.unchanged_count}"
        )


# --- Comparing with the active receivers -----------------------------------------------------


def receiver_list_diff(
    rows: Iterable[ReceiverRow], active: Mapping[str, tuple[str, str]]
) -> ReceiverDiff:
    """Compare parsed rows with the active receivers (stored Professional ID -> (first, last)).

    Names count as changed unless equal after trimming whitespace: a change of case or accents
    is a correction OntarioMD made, and is recorded. ``rows`` must hold each Professional ID
    once, as ``receiver_list_parse`` returns them.
    """
    added: list[ReceiverRow] = []
    changed: list[ReceiverChange] = []
    unchanged: list[ReceiverRow] = []
    listed: set[str] = set()
    for row in rows:
        if row.professional_id in listed:
            raise ValueError(f"{PROFESSIONAL_ID} {row.professional_id} is in the rows twice.")
        listed.add(row.professional_id)
        current = active.get(row.professional_id)
        if current is None:
            added.append(row)
        elif _trimmed(*current) == _trimmed(row.first_name, row.last_name):
            unchanged.append(row)
        else:
            changed.append(
                ReceiverChange(
                    row=row, previous_first_name=current[0], previous_last_name=current[1]
                )
            )
    removed = tuple(
        ActiveReceiver(professional_id=professional_id, first_name=first, last_name=last)
        for professional_id, (first, last) in sorted(active.items())
        if professional_id not in listed
    )
    return ReceiverDiff(
        added=tuple(added), removed=removed, changed=tuple(changed), unchanged=tuple(unchanged)
    )


def _trimmed(first_name: str, last_name: str) -> tuple[str, str]:
    return first_name.strip(), last_name.strip()


def is_mass_removal(diff: ReceiverDiff, active_count: int, threshold: float = 0.10) -> bool:
    """Whether the import would remove strictly more than ``threshold`` of the active receivers.

    A truncated or wrong file (including a header-only one) looks like a valid list that removes
    most receivers; the import must then stop and ask. Removing exactly 10% is allowed. With no
    active receivers (``active_count == 0``) nothing is a mass removal.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}.")
    if active_count < 0:
        raise ValueError(f"active_count cannot be negative, not {active_count!r}.")
    if active_count == 0:
        return False  # the first import, into an empty list, is never refused
    # Decimal keeps "exactly 10%" exact: 0.1 is not exactly representable as a float.
    return diff.removed_count > active_count * Decimal(str(threshold))


# --- Comparing names loosely -----------------------------------------------------------------


def names_match(a_first: str, a_last: str, b_first: str, b_last: str) -> bool:
    """Whether two people's names are the same ignoring case, accents and spacing.

    For checking a receiver is live on HRM, where another system may have dropped accents or
    changed case; the import itself records such differences as changes.
    """
    return _loose_name(a_first) == _loose_name(b_first) and _loose_name(a_last) == _loose_name(
        b_last
    )


def _loose_name(name: str) -> str:
    # Case-fold before decomposing so marks that folding produces ("İ" -> "i" + dot) go too.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(without_marks.split())
