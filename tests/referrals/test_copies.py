"""CC stakeholders ("Copy status updates to"): the referrer's side and the current target add and
remove listings; a copied listing's members see the thread and are emailed like any stakeholder;
a stranger still gets a 404."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from referrals import services
from referrals.models import ReferralCopy
from referrals.selectors import referral_stakeholder_listings

from ..factories import make_listing, make_referral, make_site, make_user


@pytest.fixture
def cc(world):
    """A physiotherapy clinic that is no stakeholder yet, and its member."""
    site = make_site("Riverside Physiotherapy")
    member = make_user(site, "pt.roy", first_name="Élodie", last_name="Roy")
    listing = make_listing(site, "Riverside Physio", service="Physiotherapy")
    return type("CC", (), {"site": site, "member": member, "listing": listing})


def page(client, referral):
    return client.get(f"/referrals/{referral.pk}/")


def test_the_referrer_copies_a_listing_at_creation_and_its_members_see_the_thread(
    world, cc, client_for
):
    referral = make_referral(
        world.referrer, world.practice_listing, world.cardiology, copy_listings=[cc.listing]
    )
    services.message_post(referral=referral, author=world.specialist, text="Booked for May 2.")

    response = page(client_for(cc.member), referral)
    assert response.status_code == 200
    assert "Booked for May 2." in response.content.decode()
    assert "Riverside Physio · Riverside Physiotherapy (copied)" in response.content.decode()
    assert cc.listing in referral_stakeholder_listings(referral)
    assert page(client_for(world.stranger), referral).status_code == 404


def test_the_current_target_adds_and_removes_a_copy_from_the_page(world, referral, cc, client_for):
    specialist = client_for(world.specialist)
    response = specialist.post(f"/referrals/{referral.pk}/copies/", {"listing": cc.listing.pk})
    assert response.status_code == 302
    assert ReferralCopy.objects.filter(referral=referral, listing=cc.listing).exists()
    assert page(client_for(cc.member), referral).status_code == 200
    assert "Copies now go to Riverside Physio" in page(specialist, referral).content.decode()

    response = specialist.post(f"/referrals/{referral.pk}/copies/{cc.listing.pk}/remove/")
    assert response.status_code == 302
    assert page(client_for(cc.member), referral).status_code == 404
    assert "Copies no longer go to Riverside Physio" in page(specialist, referral).content.decode()


def test_the_referrer_adds_a_copy_later(world, referral, cc):
    services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.referrer)
    assert cc.listing in referral_stakeholder_listings(referral)


def test_an_earlier_owner_or_a_copied_member_cannot_change_the_copies(world, referral, cc):
    services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.specialist)
    other = make_listing(world.stranger_listing.site, "Another")
    # The intake forwarded the referral away: it stays a stakeholder, not a decider.
    for actor in (world.intake, cc.member):
        with pytest.raises(PermissionDenied):
            services.referral_copy_add(referral=referral, listing=other, actor=actor)
        with pytest.raises(PermissionDenied):
            services.referral_copy_remove(referral=referral, listing=cc.listing, actor=actor)
    assert list(ReferralCopy.objects.values_list("listing", flat=True)) == [cc.listing.pk]


def test_a_stranger_posting_to_the_copies_gets_a_404(world, referral, cc, client_for):
    stranger = client_for(world.stranger)
    url = f"/referrals/{referral.pk}/copies/"
    assert stranger.post(url, {"listing": world.stranger_listing.pk}).status_code == 404
    assert stranger.post(f"{url}{cc.listing.pk}/remove/").status_code == 404
    assert not ReferralCopy.objects.exists()


def test_a_stakeholder_cannot_be_copied_twice(world, referral, cc):
    with pytest.raises(ValidationError):
        services.referral_copy_add(
            referral=referral, listing=world.cardiology, actor=world.referrer
        )
    services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.referrer)
    with pytest.raises(ValidationError):
        services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.specialist)


def test_a_copied_listing_is_emailed_each_message(
    world, referral, cc, django_capture_on_commit_callbacks
):
    services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.referrer)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(referral=referral, author=world.specialist, text="Seen.")
    recipients = {address for email in mail.outbox for address in email.to}
    assert cc.listing.notification_address in recipients
    assert world.cardiology.notification_address not in recipients  # the author's own listing
    assert all("Seen." not in email.body for email in mail.outbox)


def test_a_copied_listing_not_live_on_hrm_is_in_the_why_no_hrm_explainer(world, referral, cc):
    from hrm.delivery.selectors.messages import message_hrm_eligibility

    services.referral_copy_add(referral=referral, listing=cc.listing, actor=world.referrer)
    eligibility = message_hrm_eligibility(
        referral=referral,
        author=world.specialist,
        author_listing=world.cardiology,
        stakeholders=referral_stakeholder_listings(referral),
    )
    assert any("Riverside Physio" in reason for reason in eligibility.reasons)
