"""The stand-in EMR's own providers and patient charts, copied from the product's directory
and referrals (a real EMR's are entered by its own staff)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from directory.models import Listing, User
from referrals.models import Referral
from sandbox.models import EmrPatient, EmrProvider, EmrSendingFacility


@dataclass(frozen=True)
class ChartsSync:
    providers_created: int
    providers_updated: int
    patients_created: int


def sandbox_charts_sync() -> ChartsSync:
    """Give the stand-in EMR the demo's clinicians and patients, idempotently.

    A real EMR has its own provider accounts and patient charts, entered by its own staff; the
    sandbox has none, so it copies them from the product: a provider for every Professional ID
    in the directory (users' Clinical Contact Information and listings' Clinician Information;
    the listing's name wins, as it is the name HRM's Provider element carries), and one chart per
    health card number, copied from the first referral with that card. A chart is never changed
    or copied again once it exists, like a real chart: a later referral that spells the patient
    differently, or a chart edited by hand, shows what an unmatched report looks like."""
    names: dict[str, tuple[str, str]] = {}
    for pid, first, last in User.objects.exclude(professional_id="").values_list(
        "professional_id", "first_name", "last_name"
    ):
        names[pid] = (first, last)
    for pid, first, last in Listing.objects.exclude(clinician_professional_id="").values_list(
        "clinician_professional_id", "clinician_first_name", "clinician_surname"
    ):
        names[pid] = (first, last)
    providers_created = providers_updated = 0
    with transaction.atomic():
        existing = {provider.professional_id: provider for provider in EmrProvider.objects.all()}
        for pid, (first, last) in sorted(names.items()):
            provider = existing.get(pid)
            if provider is None:
                EmrProvider.objects.create(professional_id=pid, first_name=first, last_name=last)
                providers_created += 1
            elif (provider.first_name, provider.last_name) != (first, last):
                provider.first_name, provider.last_name = first, last
                provider.save(update_fields=["first_name", "last_name"])
                providers_updated += 1
        # Runs before every poll, so only referrals whose health card has no chart are read.
        uncharted = (
            Referral.objects.exclude(
                Exists(
                    EmrPatient.objects.filter(
                        health_card_number=OuterRef("patient_health_card_number")
                    )
                )
            )
            .order_by("created_at", "id")
            .values_list(
                "patient_health_card_number",
                "patient_last_name",
                "patient_first_name",
                "patient_sex",
                "patient_birth_date",
                "patient_health_card_version",
                "patient_province",
            )
        )
        new_charts = {}
        for number, last, first, sex, born, version, province in uncharted:
            if number not in new_charts:  # the first referral with this card makes the chart
                new_charts[number] = EmrPatient(
                    health_card_number=number,
                    last_name=last,
                    first_name=first,
                    sex=sex,
                    date_of_birth=born,
                    health_card_version=version,
                    province=province,
                )
        EmrPatient.objects.bulk_create(new_charts.values())
        patients_created = len(new_charts)
    # The clinic's administrator registered our Sending Facility after its first report (Open-O
    # flags reports from an unregistered one).
    EmrSendingFacility.objects.get_or_create(
        facility_id=settings.HRM_SENDING_FACILITY,
        defaults={"name": settings.HRM_SENDING_FACILITY_NAME},
    )
    return ChartsSync(providers_created, providers_updated, patients_created)
