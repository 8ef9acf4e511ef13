"""Who gets HRM: Ocean's three conditions, each reason shown to the author when no attempt is
made."""

from hrm.models import HrmMessageDecision, HrmReport, SenderApproval
from referrals import services

from ..factories import PATIENT, pdf_upload


def post(author, referral, **fields):
    return services.message_post(referral=referral, author=author, **fields)


def test_text_and_pdf_to_two_live_stakeholders_make_four_queued_reports(live):
    world = live.world
    message = post(world.specialist, live.referral, text="Letter attached", files=[pdf_upload()])
    reports = HrmReport.objects.filter(message=message)
    assert reports.count() == 4
    assert {r.recipient for r in reports} == {world.practice_listing, world.intake_listing}
    assert {r.status for r in reports} == {HrmReport.Status.QUEUED}
    assert HrmMessageDecision.objects.get(message=message).attempted is True


def test_the_authors_own_listing_never_gets_a_copy(live):
    message = post(live.world.specialist, live.referral, text="Note")
    assert live.world.cardiology not in {r.recipient for r in message.hrm_reports.all()}


def test_stakeholders_that_are_not_live_get_only_the_thread_message(live):
    world = live.world
    world.intake_listing.clinician_professional_id = ""
    world.intake_listing.save()
    message = post(world.specialist, live.referral, text="Note")
    assert [r.recipient for r in message.hrm_reports.all()] == [world.practice_listing]


def reasons_for(message):
    decision = HrmMessageDecision.objects.get(message=message)
    assert decision.attempted is False
    assert not message.hrm_reports.exists()
    return " ".join(decision.reasons)


def test_no_hrm_when_the_referrer_was_not_signed_in(live):
    world = live.world
    referral = services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Haddad",
        referrer_email="haddad@example.org",
        **PATIENT,
    )
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    message = post(world.specialist, referral, text="Letter")
    assert "The referrer was not signed in when sending the eReferral." in reasons_for(message)


def test_no_hrm_when_the_authors_upi_is_not_approved(live):
    world = live.world
    SenderApproval.objects.filter(user=world.specialist).update(
        status=SenderApproval.Status.PENDING
    )
    message = post(world.specialist, live.referral, text="Letter")
    assert "waiting for support" in reasons_for(message)


def test_no_hrm_when_the_author_has_no_professional_id(live):
    world = live.world
    world.specialist.professional_id = ""
    world.specialist.save()
    message = post(world.specialist, live.referral, text="Letter")
    assert "Add your Professional ID" in reasons_for(message)


def test_no_hrm_when_no_stakeholder_is_live_names_each_one(live):
    world = live.world
    world.practice_listing.clinician_professional_id = ""
    world.practice_listing.save()
    world.intake_listing.clinician_surname = "Okafor-Smith"
    world.intake_listing.save()
    message = post(world.specialist, live.referral, text="Letter")
    reasons = reasons_for(message)
    assert reasons.startswith("No stakeholder other than your own side is live on HRM.")
    assert (
        f"{world.practice_listing}: Alice Nguyen has no Professional ID in Clinician Information."
        in reasons
    )
    assert f"{world.cardiology}: The listing you write for" in reasons
    assert "do not match OntarioMD's list (Grace Okafor)" in reasons


def test_only_the_author_sees_why_there_is_no_icon(live, client_for):
    world = live.world
    world.specialist.professional_id = ""
    world.specialist.save()
    message = post(world.specialist, live.referral, text="Letter")
    url = f"/referrals/{live.referral.pk}/"
    author_page = client_for(world.specialist).get(url).content.decode()
    assert "Not sent via HRM: why?" in author_page
    assert "Add your Professional ID" in author_page
    other_page = client_for(world.referrer).get(url).content.decode()
    assert "Not sent via HRM" not in other_page
    for page in (author_page, other_page):
        assert f'id="hrm-status-{message.pk}" data-hrm-icon="none"' in page
        assert "Sent to EMR via HRM" not in page and "HRM delivery failed" not in page


def test_two_stakeholder_listings_with_one_professional_id_get_one_set_of_reports(live):
    # One clinician with two listings, the referral forwarded between them.
    world = live.world
    world.intake_listing.clinician_first_name = "Alice"
    world.intake_listing.clinician_surname = "Nguyen"
    world.intake_listing.clinician_professional_id = "D12345"  # the practice listing's too
    world.intake_listing.save()
    message = post(world.specialist, live.referral, text="Letter attached", files=[pdf_upload()])
    reports = list(message.hrm_reports.all())
    assert len(reports) == 2  # text and PDF, once
    assert {r.deliver_to_user_id for r in reports} == {"D12345"}
    assert {r.recipient for r in reports} == {world.practice_listing}


def test_a_stakeholder_with_the_authors_own_professional_id_gets_no_copy(live):
    world = live.world
    world.cardiology.clinician_professional_id = "D12345"  # the practice listing's clinician
    world.cardiology.save()
    world.intake_listing.clinician_professional_id = ""
    world.intake_listing.save()
    message = post(world.specialist, live.referral, text="Note")
    assert (
        "The only stakeholders live on HRM have the Professional ID of the listing you write for "
        "(CPSO 12345)" in reasons_for(message)
    )


def test_why_no_hrm_names_each_stakeholder_when_the_only_other_is_a_referrer_not_signed_in(live):
    """Not "there is no other stakeholder" beside a Stakeholders box that lists one."""
    world = live.world
    world.cardiology.requires_sign_in = False
    world.cardiology.save()
    referral = services.referral_create(
        target_listing=world.cardiology,
        referrer_name="Dr. Haddad",
        referrer_email="haddad@example.org",
        **PATIENT,
    )
    reasons = reasons_for(post(world.specialist, referral, text="Letter"))
    assert "there is no other stakeholder" not in reasons
    assert f"{world.cardiology}: The listing you write for" in reasons
    assert "The referrer, Dr. Haddad, has no listing and no EMR on HRM." in reasons


def preview(client, referral):
    """The composer's "where this message will go", as text."""
    import re

    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    section = page.split('aria-labelledby="recipients-heading"', 1)[1].split("</section>", 1)[0]
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", section)).replace("&#x27;", "'")


def test_the_composer_says_where_the_message_will_go_before_send(live, client_for):
    world = live.world
    world.intake_listing.clinician_professional_id = ""
    world.intake_listing.save()
    text = preview(client_for(world.specialist), live.referral)
    assert (
        f"{world.practice_listing} · {world.practice_listing.site} : thread, HRM into their EMR, "
        f"email (to {world.practice_listing.notification_address})" in text
    )
    assert f"{world.intake_listing} · {world.intake_listing.site} : thread, email" in text
    assert "No HRM into their EMR: " in text and "has no Professional ID" in text
    assert f"{world.cardiology} · {world.cardiology.site} (you write for this listing): thread" in (
        text
    )
    # What the preview said is what Send does.
    message = post(world.specialist, live.referral, text="Note")
    assert {r.recipient for r in message.hrm_reports.all()} == {world.practice_listing}


def test_the_composer_says_why_no_hrm_for_an_author_without_an_approved_upi(live, client_for):
    world = live.world
    SenderApproval.objects.filter(user=world.specialist).update(
        status=SenderApproval.Status.PENDING
    )
    text = preview(client_for(world.specialist), live.referral)
    assert "HRM into their EMR," not in text
    assert text.count("No HRM into their EMR:") == 2
    assert "waiting for support" in text


def test_the_composer_names_a_referrer_not_signed_in_and_their_email(live, client_for):
    world = live.world
    referral = services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Haddad",
        referrer_email="haddad@example.org",
        **PATIENT,
    )
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    text = preview(client_for(world.specialist), referral)
    assert "Dr. Haddad (referrer, not signed in) : thread, email (to haddad@example.org)" in text
    assert "The referrer was not signed in when sending the eReferral" in text
    assert "HRM into their EMR," not in text
