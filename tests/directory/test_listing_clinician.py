"""A listing's clinician decides whose EMR gets its HRM reports: only support, or that clinician
from their own verified account, changes it; anyone else asks, and the reports keep going to the
clinician on the listing until support approves."""

import pytest
from django.core import mail
from django.utils import timezone

from directory.models import Listing, ListingClinicianChange
from hrm.models import HrmReceiver
from referrals import services

from ..delivery_fixtures import make_live
from ..factories import make_user

Status = ListingClinicianChange.Status


_capture = None


@pytest.fixture(autouse=True)
def _emails_after_commit(django_capture_on_commit_callbacks):
    """Each request below runs what waits for its commit (the emails) as it would in production."""
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def committed(send, *args, **kwargs):
    with _capture(execute=True):
        return send(*args, **kwargs)


@pytest.fixture
def live_world(world, referral):
    make_live(world)
    world.referral = referral
    # Dr. Haddad: another clinician, live on HRM, whom a clerk would point the practice at.
    HrmReceiver.objects.create(professional_id="D13579", first_name="Omar", last_name="Haddad")
    world.clerk = make_user(world.practice_listing.site, "clerk.kim", first_name="Kim")
    world.referrer.professional_id_verified_at = timezone.now()
    world.referrer.save()
    mail.outbox.clear()
    return world


@pytest.fixture
def support(db):
    return make_user(username="support.sam", is_staff=True, is_superuser=True, first_name="Sam")


def settings_post(client, listing, **clinician):
    values = {
        "notification_email": listing.notification_email,
        "requires_sign_in": "on" if listing.requires_sign_in else "",
        "clinician_first_name": listing.clinician_first_name,
        "clinician_surname": listing.clinician_surname,
        "clinician_professional_id": listing.clinician_professional_id,
        **clinician,
    }
    url = f"/directory/listings/{listing.pk}/settings/"
    return committed(client.post, url, values, follow=True)


HADDAD = {
    "clinician_first_name": "Omar",
    "clinician_surname": "Haddad",
    "clinician_professional_id": "CPSO 13579",
}


def next_message_recipients(world):
    message = services.message_post(
        referral=world.referral, author=world.specialist, text="Seen.", files=[]
    )
    return sorted(message.hrm_reports.values_list("deliver_to_user_id", flat=True))


def test_a_clerk_only_asks_and_reports_keep_going_to_the_clinician(live_world, client_for):
    w = live_world
    page = settings_post(client_for(w.clerk), w.practice_listing, **HADDAD).content.decode()
    assert "went to support for approval" in page
    assert "Waiting for support" in page
    listing = Listing.objects.get(pk=w.practice_listing.pk)
    assert (listing.clinician_surname, listing.clinician_professional_id) == ("Nguyen", "D12345")
    [change] = ListingClinicianChange.objects.all()
    assert change.status == Status.PENDING
    assert change.requested_by == w.clerk
    assert (change.before_professional_id, change.after_professional_id) == ("D12345", "D13579")
    assert change.after_surname == "Haddad"
    # The clinician on the listing is told, without patient data.
    [email] = mail.outbox
    assert email.to == ["dr.nguyen@example.org"]
    assert "Alice Nguyen (CPSO 12345)" in email.body and "Omar Haddad (CPSO 13579)" in email.body
    assert "Tremblay" not in email.body + email.subject
    assert "D12345" in next_message_recipients(w) and "D13579" not in next_message_recipients(w)


def test_support_approves_and_then_the_reports_go_to_the_new_clinician(
    live_world, client_for, support
):
    w = live_world
    settings_post(client_for(w.clerk), w.practice_listing, **HADDAD)
    change = ListingClinicianChange.objects.get()
    # Support hears of the request, with where to decide it.
    [to_support] = [email for email in mail.outbox if email.to == [support.email]]
    assert "/admin/directory/listingclinicianchange/?status__exact=pending" in to_support.body
    assert "Tremblay" not in to_support.body
    mail.outbox.clear()
    response = committed(
        client_for(support).post,
        "/admin/directory/listingclinicianchange/",
        {"action": "approve", "_selected_action": [change.pk]},
        follow=True,
    )
    assert "approved" in response.content.decode()
    change.refresh_from_db()
    assert change.status == Status.APPROVED and change.decided_by == support
    listing = Listing.objects.get(pk=w.practice_listing.pk)
    assert listing.clinician_professional_id == "D13579"
    [email] = mail.outbox
    assert email.to == ["dr.nguyen@example.org"]
    assert "now go to the new clinician" in email.body
    recipients = next_message_recipients(w)
    assert "D13579" in recipients and "D12345" not in recipients


def test_support_rejects_and_nothing_changes(live_world, client_for, support):
    w = live_world
    settings_post(client_for(w.clerk), w.practice_listing, **HADDAD)
    change = ListingClinicianChange.objects.get()
    client_for(support).post(
        "/admin/directory/listingclinicianchange/",
        {"action": "reject", "_selected_action": [change.pk]},
    )
    change.refresh_from_db()
    assert change.status == Status.REJECTED
    assert Listing.objects.get(pk=w.practice_listing.pk).clinician_professional_id == "D12345"


def test_the_verified_clinician_changes_their_own_listing(live_world, client_for):
    w = live_world
    page = settings_post(
        client_for(w.referrer), w.practice_listing, clinician_first_name="Alice-Marie"
    ).content.decode()
    assert "were saved, with Professional ID CPSO 12345" in page
    listing = Listing.objects.get(pk=w.practice_listing.pk)
    assert listing.clinician_first_name == "Alice-Marie"
    [change] = ListingClinicianChange.objects.all()
    assert change.status == Status.APPLIED and change.requested_by == w.referrer
    assert (change.before_first_name, change.after_first_name) == ("Alice", "Alice-Marie")
    assert change.decided_at is not None
    [email] = mail.outbox
    assert email.to == ["dr.nguyen@example.org"]


def test_the_clinician_cannot_hand_their_listing_to_another_clinician(live_world, client_for):
    w = live_world
    settings_post(client_for(w.referrer), w.practice_listing, **HADDAD)
    assert Listing.objects.get(pk=w.practice_listing.pk).clinician_professional_id == "D12345"
    assert ListingClinicianChange.objects.get().status == Status.PENDING


def test_an_unverified_id_on_ones_own_account_is_not_enough(live_world, client_for):
    w = live_world
    # A clerk who typed Dr. Haddad's ID on their own account does not become Dr. Haddad.
    w.clerk.professional_id = "D13579"
    w.clerk.save()
    settings_post(client_for(w.clerk), w.practice_listing, **HADDAD)
    assert Listing.objects.get(pk=w.practice_listing.pk).clinician_professional_id == "D12345"
    assert ListingClinicianChange.objects.get().status == Status.PENDING


def test_other_settings_are_saved_at_once_and_record_no_clinician_change(live_world, client_for):
    w = live_world
    settings_post(client_for(w.clerk), w.practice_listing, notification_email="new@example.org")
    listing = Listing.objects.get(pk=w.practice_listing.pk)
    assert listing.notification_email == "new@example.org"
    assert not ListingClinicianChange.objects.exists()
    assert mail.outbox == []


def test_a_stranger_gets_404_and_nothing_is_recorded(live_world, client_for):
    w = live_world
    response = settings_post(client_for(w.stranger), w.practice_listing, **HADDAD)
    assert response.status_code == 404
    assert not ListingClinicianChange.objects.exists()
    assert Listing.objects.get(pk=w.practice_listing.pk).clinician_professional_id == "D12345"


def test_support_changes_it_in_the_admin_and_it_is_recorded(live_world, client_for, support):
    w = live_world
    listing = w.practice_listing
    response = committed(
        client_for(support).post,
        f"/admin/directory/listing/{listing.pk}/change/",
        {
            "site": listing.site_id,
            "name": listing.name,
            "service": listing.service,
            "notification_email": listing.notification_email,
            "requires_sign_in": "on",
            **HADDAD,
        },
    )
    assert response.status_code == 302
    assert Listing.objects.get(pk=listing.pk).clinician_professional_id == "D13579"
    [change] = ListingClinicianChange.objects.all()
    assert change.status == Status.APPLIED and change.requested_by == support
    assert (change.before_professional_id, change.after_professional_id) == ("D12345", "D13579")
    [email] = mail.outbox
    assert email.to == ["dr.nguyen@example.org"]
