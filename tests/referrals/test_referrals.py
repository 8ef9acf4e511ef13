"""Creating, forwarding and moving referrals along."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from referrals import services
from referrals.models import Referral, ReferralEvent

from ..factories import PATIENT, make_referral

FORM = {
    "patient_first_name": "Hélène",
    "patient_last_name": "Tremblay",
    "patient_birth_date": "1961-04-18",
    "patient_sex": "F",
    "patient_health_card_number": "9876-543-217",
    "patient_health_card_version": "ab",
    "patient_province": "ON",
    "reason": "Chest pain",
}


def test_signed_in_referral_is_created_with_its_owner_and_event(world, client_for):
    response = client_for(world.referrer).post(
        "/referrals/new/",
        {
            **FORM,
            "referrer_listing": world.practice_listing.pk,
            "target_listing": world.cardiology.pk,
        },
    )
    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/referrals/{referral.pk}/"
    assert referral.referrer_signed_in is True
    assert referral.referrer_user == world.referrer
    assert referral.patient_health_card_number == "9876543217"
    assert referral.patient_health_card_version == "AB"
    assert [o.listing for o in referral.ownerships.all()] == [world.cardiology]
    assert referral.events.get().kind == ReferralEvent.Kind.CREATED


def test_invalid_health_card_number_is_refused_on_the_form(world, client_for):
    response = client_for(world.referrer).post(
        "/referrals/new/",
        {
            **FORM,
            "patient_health_card_number": "12345",
            "referrer_listing": world.practice_listing.pk,
            "target_listing": world.cardiology.pk,
        },
    )
    assert response.status_code == 200
    assert "must be 10 digits" in response.content.decode()
    assert not Referral.objects.exists()


def test_a_user_cannot_refer_for_someone_elses_listing(world, client_for):
    response = client_for(world.referrer).post(
        "/referrals/new/",
        {
            **FORM,
            "referrer_listing": world.stranger_listing.pk,
            "target_listing": world.cardiology.pk,
        },
    )
    assert response.status_code == 200
    assert not Referral.objects.exists()


def test_public_submission_to_a_listing_that_allows_it(world, client):
    response = client.post(
        f"/referrals/listings/{world.intake_listing.pk}/refer/",
        {**FORM, "referrer_name": "Dr. Omar Haddad", "referrer_email": "haddad@walkin.example"},
    )
    assert response.status_code == 200
    assert "Referral sent" in response.content.decode()
    referral = Referral.objects.get()
    assert referral.referrer_signed_in is False
    assert referral.referrer_user is None
    assert referral.referrer_email == "haddad@walkin.example"


def test_public_submission_is_refused_where_sign_in_is_required(world, client):
    url = f"/referrals/listings/{world.cardiology.pk}/refer/"
    page = client.get(url)
    assert page.status_code == 403
    assert "only accepts referrals from signed-in users" in page.content.decode()
    response = client.post(url, {**FORM, "referrer_name": "X", "referrer_email": "x@example.org"})
    assert response.status_code == 403
    assert not Referral.objects.exists()
    with pytest.raises(PermissionDenied):
        services.referral_create(
            target_listing=world.cardiology,
            referrer_name="X",
            referrer_email="x@example.org",
            **PATIENT,
        )


def test_signed_in_flag_never_changes(world):
    referral = make_referral(world.referrer, world.practice_listing, world.cardiology)
    referral.referrer_signed_in = False
    with pytest.raises(ValidationError):
        referral.save()
    referral.refresh_from_db()
    assert referral.referrer_signed_in is True


def test_forwarding_keeps_every_owner_a_stakeholder(world, referral, client_for):
    assert referral.target_listing == world.cardiology
    assert referral.status == Referral.Status.FORWARDED
    assert [o.listing for o in referral.ownerships.all()] == [
        world.intake_listing,
        world.cardiology,
    ]
    forwarded = referral.events.get(kind=ReferralEvent.Kind.FORWARDED)
    assert "Lakeshore Cardiology Intake" in forwarded.description
    page = client_for(world.intake).get(f"/referrals/{referral.pk}/").content.decode()
    assert "Forwarded from Lakeshore Cardiology Intake to St. Brigid&#x27;s Cardiology" in page


def test_forward_through_the_page(world, client_for):
    referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    response = client_for(world.intake).post(
        f"/referrals/{referral.pk}/forward/", {"to_listing": world.cardiology.pk}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.target_listing == world.cardiology


def test_only_the_current_owner_forwards(world, referral):
    with pytest.raises(PermissionDenied):
        services.referral_forward(
            referral=referral, to_listing=world.intake_listing, actor=world.intake
        )
    with pytest.raises(PermissionDenied):
        services.referral_forward(
            referral=referral, to_listing=world.intake_listing, actor=world.referrer
        )


def test_status_lifecycle(world, referral, client_for):
    client = client_for(world.specialist)
    booking = {"appointment_date": "2027-01-15", "appointment_time": "09:30"}
    for status in ("accepted", "booked", "completed"):
        client.post(f"/referrals/{referral.pk}/status/", {"status": status, **booking})
        referral.refresh_from_db()
        assert referral.status == status
    changes = referral.events.filter(kind=ReferralEvent.Kind.STATUS_CHANGED)
    assert [e.description for e in changes] == [
        "Forwarded → Accepted",
        "Accepted → Booked",
        "Booked → Completed",
    ]


def test_impossible_transitions_are_refused(world, referral):
    with pytest.raises(ValidationError):
        services.referral_status_change(
            referral=referral, status="completed", actor=world.specialist
        )
    with pytest.raises(PermissionDenied):
        services.referral_status_change(referral=referral, status="accepted", actor=world.referrer)


def test_only_the_referrer_side_cancels(world, referral, client_for):
    cancel = f"/referrals/{referral.pk}/status/cancelled/confirm/"
    client_for(world.specialist).post(cancel, {"reason": ""})
    referral.refresh_from_db()
    assert referral.status == Referral.Status.FORWARDED
    client_for(world.referrer).post(cancel, {"reason": ""})
    referral.refresh_from_db()
    assert referral.status == Referral.Status.CANCELLED
