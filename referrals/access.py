"""Recording looks at a referral's patient information in the access trail (``audit``)."""

from django.http import HttpRequest

from audit.services import Action, PatientSnapshot, access_record

from .models import Referral

__all__ = ["Action", "referral_access_record", "referral_patient_snapshot"]


def referral_patient_snapshot(referral: Referral) -> PatientSnapshot:
    return PatientSnapshot(
        name=referral.patient_name,
        birth_date=referral.patient_birth_date,
        health_card=referral.patient_health_card_number,
    )


def referral_access_record(
    request: HttpRequest | None,
    referral: Referral,
    *,
    action: str,
    record: str,
    object_id: int | None = None,
    detail: str = "",
    actor=None,
    actor_username: str = "",
) -> None:
    access_record(
        request,
        action=action,
        record=record,
        actor=actor,
        referral_id=referral.pk,
        object_id=object_id,
        patient=referral_patient_snapshot(referral),
        detail=detail,
        actor_username=actor_username,
    )
