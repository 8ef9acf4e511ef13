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
    assert reasons.startswith("No stakeholder is live on HRM:")
    assert "Alice Nguyen has no Professional ID in Clinician Information." in reasons
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
