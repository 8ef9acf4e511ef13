"""Status changes follow Ocean's rules: a decline has a reason and can be re-opened, a booking
holds its appointment, each change is posted in the thread and emailed as Ocean does."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from referrals import services
from referrals.models import Referral, ReferralEvent

from ..factories import PATIENT

pytestmark = pytest.mark.django_db
REFERRER_EMAIL = "o.haddad@walkin.example"


@pytest.fixture
def public_referral(world):
    return services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Omar Haddad",
        referrer_email=REFERRER_EMAIL,
        **PATIENT,
    )


def sent_to(address):
    return [m for m in mail.outbox if address in m.to]


def assert_no_patient_data(email):
    for forbidden in ("Tremblay", "Hélène", "9876543217", "Chest pain", "Not our"):
        assert forbidden not in email.body and forbidden not in email.subject


def test_a_decline_needs_a_reason_and_a_confirmation(world, public_referral, client_for):
    client = client_for(world.intake)
    page = client.get(f"/referrals/{public_referral.pk}/").content.decode()
    assert "Decline…" in page and 'value="declined"' not in page
    confirm = f"/referrals/{public_referral.pk}/status/declined/confirm/"
    assert "Decline referral" in client.get(confirm).content.decode()
    response = client.post(confirm, {"reason": "   "})
    assert response.status_code == 400
    assert "Give the reason for declining." in response.content.decode()
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.NEW
    # A plain status post cannot decline either.
    client.post(f"/referrals/{public_referral.pk}/status/", {"status": "declined"})
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.NEW
    with pytest.raises(ValidationError):
        services.referral_status_change(
            referral=public_referral, status="declined", actor=world.intake
        )


def test_a_decline_is_posted_emailed_to_the_referrer_and_can_be_reopened(
    world, public_referral, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.intake)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/referrals/{public_referral.pk}/status/declined/confirm/",
            {"reason": "Not our service: please refer to sports medicine."},
        )
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.DECLINED
    (email,) = sent_to(REFERRER_EMAIL)
    assert "declined" in email.subject
    assert f"/referrals/follow/{public_referral.reference}/" in email.body
    assert_no_patient_data(email)
    page = client.get(f"/referrals/{public_referral.pk}/").content.decode()
    assert "Declined. Reason: Not our service: please refer to sports medicine." in page
    assert "Re-open referral" in page

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/referrals/{public_referral.pk}/status/", {"status": "new"})
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.NEW
    (email,) = sent_to(REFERRER_EMAIL)
    assert "re-opened" in email.subject
    notes = [e.note for e in public_referral.events.filter(kind="status_changed")]
    assert notes == [
        "Declined. Reason: Not our service: please refer to sports medicine.",
        "Re-opened: the referral is new again.",
    ]


def test_a_decline_after_forwarding_goes_back_to_who_forwarded_it(
    world, referral, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.referral_status_change(
            referral=referral, status="declined", actor=world.specialist, reason="Full."
        )
    recipients = sorted(a for m in mail.outbox for a in m.to)
    assert recipients == [world.intake_listing.notification_email]


def test_a_booking_holds_its_appointment_and_the_referrer_is_told(
    world, public_referral, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.intake)
    client.post(f"/referrals/{public_referral.pk}/status/", {"status": "accepted"})
    response = client.post(f"/referrals/{public_referral.pk}/status/", {"status": "booked"})
    assert response.status_code == 400
    response = client.post(
        f"/referrals/{public_referral.pk}/status/",
        {"status": "booked", "appointment_date": "01/15/2027", "appointment_time": "9:30 AM"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter the date as year-month-day" in page and "Enter the time as hours:minutes" in page
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.ACCEPTED
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/referrals/{public_referral.pk}/status/",
            {"status": "booked", "appointment_date": "2027-01-15", "appointment_time": "09:30"},
        )
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.BOOKED
    local = timezone.localtime(public_referral.appointment_at)
    assert (local.date(), local.time()) == (datetime.date(2027, 1, 15), datetime.time(9, 30))
    (email,) = sent_to(REFERRER_EMAIL)
    assert "appointment booked" in email.subject
    assert_no_patient_data(email)
    assert "2027-01-15" not in email.body  # the appointment is read in the referral
    page = client.get(f"/referrals/{public_referral.pk}/").content.decode()
    assert "Booked: appointment on 2027-01-15 09:30." in page
    assert "Change appointment" in page

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/referrals/{public_referral.pk}/status/",
            {"status": "booked", "appointment_date": "2027-01-22", "appointment_time": "14:00"},
        )
    (email,) = sent_to(REFERRER_EMAIL)
    assert "appointment changed" in email.subject
    assert public_referral.events.last().note == "Booking changed: appointment on 2027-01-22 14:00."


def test_accepting_and_completing_email_nobody(
    world, public_referral, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.referral_status_change(
            referral=public_referral, status="accepted", actor=world.intake
        )
        services.referral_status_change(
            referral=public_referral, status="completed", actor=world.intake
        )
    assert mail.outbox == []
    assert [e.note for e in public_referral.events.filter(kind="status_changed")] == [
        "Marked accepted.",
        "Marked completed.",
    ]


def test_cancelling_is_confirmed_emailed_to_the_receiver_and_reopened_by_the_referrer(
    world, referral, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.referrer)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Cancel referral…" in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/referrals/{referral.pk}/status/cancelled/confirm/", {"reason": ""})
    referral.refresh_from_db()
    assert referral.status == Referral.Status.CANCELLED
    assert sorted(a for m in mail.outbox for a in m.to) == [world.cardiology.notification_email]
    client_for(world.specialist).post(f"/referrals/{referral.pk}/status/", {"status": "new"})
    referral.refresh_from_db()
    assert referral.status == Referral.Status.CANCELLED
    client.post(f"/referrals/{referral.pk}/status/", {"status": "new"})
    referral.refresh_from_db()
    assert referral.status == Referral.Status.NEW


def test_forwarding_is_posted_in_the_thread(world, referral, client_for):
    page = client_for(world.referrer).get(f"/referrals/{referral.pk}/").content.decode()
    assert "Forwarded from Lakeshore Cardiology Intake to St. Brigid&#x27;s Cardiology." in page
    assert referral.events.get(kind=ReferralEvent.Kind.FORWARDED).actor_listing == (
        world.intake_listing
    )
