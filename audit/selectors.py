"""Reading the access trail: a date range for export, and everyone who looked at one patient."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from .models import AccessEntry


def access_entries_between(start: datetime.date, end: datetime.date) -> QuerySet[AccessEntry]:
    """Entries from the start of ``start`` to the end of ``end`` (local days), oldest first."""
    zone = timezone.get_current_timezone()
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, zone)
    return AccessEntry.objects.filter(at__gte=since, at__lt=until).order_by("at", "id")


def access_entries_for_patient(
    *, health_card: str = "", last_name: str = "", birth_date: datetime.date | None = None
) -> QuerySet[AccessEntry]:
    """Every entry about one patient, found by health card digits, or by surname and date of
    birth (for a patient without a card, or to catch a mistyped card)."""
    query = Q()
    if health_card:
        query |= Q(patient_health_card=health_card)
    if last_name and birth_date:
        query |= Q(patient_name__istartswith=f"{last_name}, ", patient_birth_date=birth_date)
    if not query:
        return AccessEntry.objects.none()
    return AccessEntry.objects.filter(query)


@dataclass(frozen=True)
class PatientReader:
    username: str
    name: str
    entries: int
    first_at: datetime.datetime
    last_at: datetime.datetime
    actions: tuple[str, ...]


def patient_readers(entries: QuerySet[AccessEntry]) -> list[PatientReader]:
    """Who looked at the patient's record: one line per person, most recent first."""
    rows = (
        entries.order_by()
        .values("actor_username", "actor_name")
        .annotate(entries=Count("id"), first_at=Min("at"), last_at=Max("at"))
        .order_by("-last_at")
    )
    actions: dict[str, set[str]] = {}
    for username, action in entries.order_by().values_list("actor_username", "action").distinct():
        actions.setdefault(username, set()).add(AccessEntry.Action(action).label)
    return [
        PatientReader(
            username=row["actor_username"],
            name=row["actor_name"],
            entries=row["entries"],
            first_at=row["first_at"],
            last_at=row["last_at"],
            actions=tuple(sorted(actions.get(row["actor_username"], ()))),
        )
        for row in rows
    ]
