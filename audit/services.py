"""Writing the access trail. Callers pass ids and a ``PatientSnapshot``, never their models."""

import datetime
from dataclasses import dataclass

from django.http import HttpRequest

from security.client_address import client_address_or_none

from .models import AccessEntry

Action = AccessEntry.Action


@dataclass(frozen=True, slots=True)
class PatientSnapshot:
    """The patient as the reader saw them."""

    name: str
    birth_date: datetime.date | None
    health_card: str


def access_record(
    request: HttpRequest | None,
    *,
    action: str,
    record: str,
    actor=None,
    referral_id: int | None = None,
    object_id: int | None = None,
    patient: PatientSnapshot | None = None,
    detail: str = "",
    actor_username: str = "",
) -> AccessEntry:
    """Append one entry. ``request`` gives the reader, the path and the address; ``actor``
    names the reader where there is no request, or ``actor_username`` where there is no user
    either (a management command run from a shell: the operating system's user)."""
    user = actor if actor is not None else getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return AccessEntry.objects.create(
        actor=user if signed_in else None,
        actor_username=user.get_username() if signed_in else actor_username or "(not signed in)",
        actor_name=(user.get_full_name() if signed_in else "")[:200],
        action=action,
        record=record,
        referral_id=referral_id,
        object_id=object_id,
        patient_name=patient.name[:201] if patient else "",
        patient_birth_date=patient.birth_date if patient else None,
        patient_health_card=patient.health_card[:20] if patient else "",
        detail=detail[:500],
        path=request.get_full_path()[:300] if request is not None else "",
        ip_address=client_address_or_none(request) if request is not None else None,
    )


@dataclass(frozen=True, slots=True)
class PatientShown:
    """One patient on a page: the referral (when one), the record shown, the patient."""

    referral_id: int | None
    object_id: int | None
    patient: PatientSnapshot


def access_record_each(
    request: HttpRequest,
    shown: list[PatientShown],
    *,
    action: str,
    record: str,
    detail: str = "",
) -> int:
    """One entry per patient a page showed (a list shows many), in one insert; one entry with
    no patient when it showed none, so that what was searched is kept all the same."""
    first = access_record(
        request,
        action=action,
        record=record,
        referral_id=shown[0].referral_id if shown else None,
        object_id=shown[0].object_id if shown else None,
        patient=shown[0].patient if shown else None,
        detail=detail,
    )
    AccessEntry.objects.bulk_create(
        AccessEntry(
            actor=first.actor,
            actor_username=first.actor_username,
            actor_name=first.actor_name,
            action=action,
            record=record,
            referral_id=one.referral_id,
            object_id=one.object_id,
            patient_name=one.patient.name[:201],
            patient_birth_date=one.patient.birth_date,
            patient_health_card=one.patient.health_card[:20],
            detail=first.detail,
            path=first.path,
            ip_address=first.ip_address,
            at=first.at,
        )
        for one in shown[1:]
    )
    return max(len(shown), 1)
