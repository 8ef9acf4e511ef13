"""Private notes: seen by the author's own site only, marked "Private to <site>", never emailed to
or delivered for another site, never sent to HRM."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from hrm.models import HrmReport
from referrals import services
from referrals.models import Message, ReferralEvent

from ..factories import PATIENT, composed, make_listing, make_site, make_user, pdf_upload

NOTE = "Private: the patient's daughter asked us not to call before 10."


@pytest.fixture
def noted(live, django_capture_on_commit_callbacks):
    """The specialist's site notes privately on a referral whose stakeholders are all live on
    HRM, with a copied listing."""
    world, referral = live.world, live.referral
    site = make_site("Riverside Physiotherapy")
    world.cc_member = make_user(site, "pt.roy")
    services.referral_copy_add(
        referral=referral, listing=make_listing(site, "Riverside Physio"), actor=world.referrer
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        note = services.message_post(
            referral=referral, author=world.specialist, text=NOTE, private=True
        )
    return world, referral, note


def test_the_note_is_kept_for_the_authors_site_and_marked(noted, client_for):
    world, referral, note = noted
    assert note.private_to_site == world.cardiology.site
    for member in (world.specialist, world.colleague):
        page = client_for(member).get(f"/referrals/{referral.pk}/").content.decode()
        assert NOTE.replace("'", "&#x27;") in page
        assert "Private to St. Brigid&#x27;s Hospital" in page


def test_no_other_site_sees_the_note_on_any_page(noted, client_for):
    world, referral, note = noted
    for member in (world.referrer, world.intake, world.cc_member):
        client = client_for(member)
        page = client.get(f"/referrals/{referral.pk}/").content.decode()
        assert "daughter" not in page
        assert "Private to" not in page
        assert f"message-{note.pk}" not in page
        assert client.get(f"/referrals/{referral.pk}/hrm-status/").json()["messages"] == {}
        for url in (
            f"/referrals/{referral.pk}/messages/{note.pk}/addendum.pdf",
            f"/referrals/{referral.pk}/messages/{note.pk}/hrm/",
        ):
            assert client.get(url).status_code == 404, (member, url)
    assert client_for(world.stranger).get(f"/referrals/{referral.pk}/").status_code == 404


def test_the_note_is_never_emailed_nor_sent_to_hrm_nor_in_the_event_log(noted):
    world, referral, note = noted
    assert mail.outbox == []
    assert not HrmReport.objects.filter(message=note).exists()
    assert not referral.events.filter(kind=ReferralEvent.Kind.MESSAGE_POSTED).exists()


def test_a_shared_message_next_to_it_still_goes_everywhere(
    noted, django_capture_on_commit_callbacks
):
    world, referral, note = noted
    with django_capture_on_commit_callbacks(execute=True):
        shared = services.message_post(referral=referral, author=world.specialist, text="Booked.")
    assert HrmReport.objects.filter(message=shared).count() == 2  # referrer's and intake's EMRs
    assert len(mail.outbox) >= 3  # referrer, intake, copied listing


def test_the_form_posts_a_private_note(world, referral, client_for):
    client = client_for(world.referrer)
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(client, referral, text="Call back Tuesday.", private="on"),
    )
    assert response.status_code == 302
    note = Message.objects.get(referral=referral)
    assert note.private_to_site == world.practice_listing.site
    assert (
        client_for(world.specialist)
        .get(f"/referrals/{referral.pk}/")
        .content.count(b"Call back Tuesday.")
        == 0
    )


def test_a_writer_without_a_listing_on_the_referral_cannot_keep_a_private_note(world, referral):
    site = make_site("Nowhere")
    outsider = make_user(site)
    with pytest.raises(ValidationError):
        services.message_post(referral=referral, author=outsider, text="x", private=True)
    assert not Message.objects.exists()


def test_a_private_notes_file_is_a_404_for_another_site(world, referral, client_for):
    note = services.message_post(
        referral=referral,
        author=world.specialist,
        files=[pdf_upload("Family call.pdf")],
        private=True,
    )
    attachment = note.attachments.get()
    url = f"/referrals/{referral.pk}/attachments/{attachment.pk}/"
    assert client_for(world.colleague).get(url).status_code == 200
    assert client_for(world.referrer).get(url).status_code == 404


def test_the_referrer_without_an_account_never_sees_a_private_note(world, client_for):
    from django.test import Client

    from .test_referrer_access import follow_url, open_with_code

    public = services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Omar Haddad",
        referrer_email="o.haddad@walkin.example",
        **PATIENT,
    )
    note = services.message_post(
        referral=public,
        author=world.intake,
        text="Private: intake triage says semi-urgent.",
        files=[pdf_upload("Triage.pdf")],
        private=True,
    )
    services.message_post(referral=public, author=world.intake, text="Received, thank you.")
    client = Client()
    open_with_code(client, public)
    page = client.get(follow_url(public)).content.decode()
    assert "Received, thank you." in page
    assert "semi-urgent" not in page and "Triage.pdf" not in page
    attachment = note.attachments.get()
    assert client.get(f"{follow_url(public)}attachments/{attachment.pk}/").status_code == 404
    assert (
        "semi-urgent" in client_for(world.intake).get(f"/referrals/{public.pk}/").content.decode()
    )
