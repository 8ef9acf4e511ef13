"""Posting messages with text and files, and everything that must be refused."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from referrals import services
from referrals.models import Attachment, Message, ReferralEvent
from referrals.sample_files import consultation_letter_pdf

from ..factories import PATIENT, composed, pdf_upload

MB = 1024 * 1024
ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00"


def post(client, referral, **data):
    return client.post(f"/referrals/{referral.pk}/messages/", composed(client, referral, **data))


def test_text_message_is_posted_and_logged(
    world, referral, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_for(world.specialist), referral, text="Seen today.\nBooked.")
    assert response.status_code == 302
    message = Message.objects.get(referral=referral)
    assert message.text == "Seen today.\nBooked."
    assert message.author == world.specialist
    assert message.author_listing == world.cardiology
    assert referral.events.filter(kind=ReferralEvent.Kind.MESSAGE_POSTED).count() == 1
    page = client_for(world.referrer).get(f"/referrals/{referral.pk}/").content.decode()
    assert "Seen today.\nBooked." in page


def test_pdf_is_attached_and_downloadable(world, referral, client_for):
    upload = pdf_upload("Consultation letter.pdf", ["Impression: stable angina"])
    body = upload.read()
    upload.seek(0)
    response = post(client_for(world.specialist), referral, text="Letter attached", files=[upload])
    assert response.status_code == 302
    attachment = Attachment.objects.get(message__referral=referral)
    assert attachment.content_type == "application/pdf"
    assert attachment.original_name == "Consultation letter.pdf"
    assert attachment.size == len(body)
    download = client_for(world.referrer).get(
        f"/referrals/{referral.pk}/attachments/{attachment.pk}/"
    )
    assert b"".join(download.streaming_content) == body


def test_a_message_can_be_only_a_file_or_several(world, referral, client_for):
    png = SimpleUploadedFile(
        "scan.PNG", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    )
    txt = SimpleUploadedFile("notes.txt", "Blood pressure 120/80.\nHélène.\n".encode())
    response = post(client_for(world.referrer), referral, files=[pdf_upload(), png, txt])
    assert response.status_code == 302
    message = Message.objects.get(referral=referral)
    assert message.text == ""
    assert sorted(a.content_type for a in message.attachments.all()) == [
        "application/pdf",
        "image/png",
        "text/plain",
    ]


def test_the_type_comes_from_the_content_not_the_name(world, referral, client_for):
    upload = SimpleUploadedFile("photo.txt", consultation_letter_pdf(["A letter named .txt"]))
    post(client_for(world.referrer), referral, files=[upload])
    assert Attachment.objects.get().content_type == "application/pdf"


@pytest.mark.parametrize(
    ("upload", "expected_error"),
    [
        (
            SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (11 * MB)),
            "larger than the 10.0\xa0MB (10,485,760 bytes) allowed",
        ),
        (
            SimpleUploadedFile("letter.pdf", ELF_HEADER + b"\x00" * 4096),
            "is not an allowed file type",
        ),
        (SimpleUploadedFile("empty.pdf", b""), "is empty"),
        (
            SimpleUploadedFile(
                "page.txt", b"<!DOCTYPE html><html><script>alert(1)</script></html>"
            ),
            "is not an allowed file type",
        ),
        (
            SimpleUploadedFile("archive.pdf", b"PK\x03\x04" + b"\x00" * 100),
            "is not an allowed file type",
        ),
    ],
    ids=["11MB", "executable-renamed-pdf", "empty", "html-as-txt", "zip-as-pdf"],
)
def test_bad_files_are_refused_and_nothing_is_saved(
    world, referral, client_for, upload, expected_error
):
    response = post(client_for(world.specialist), referral, text="See file", files=[upload])
    assert response.status_code == 400
    page = response.content.decode()
    assert expected_error in page
    assert upload.name in page
    assert 'role="alert"' in page
    assert "See file" in page  # what was typed is kept on the form
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()


def test_one_bad_file_refuses_the_whole_message(world, referral, client_for):
    bad = SimpleUploadedFile("letter.pdf", ELF_HEADER + b"\x00" * 64)
    response = post(client_for(world.specialist), referral, files=[pdf_upload(), bad])
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_the_51st_megabyte_on_a_referral_is_refused(world, referral, client_for):
    # 50 MB already on the referral: five letters of 10 MB each.
    for n in range(5):
        services.message_post(
            referral=referral,
            author=world.specialist,
            files=[pdf_upload(f"part{n}.pdf", padding_bytes=10 * MB - 1024)],
        )
    total = sum(a.size for a in Attachment.objects.all())
    assert 49 * MB < total <= 50 * MB
    response = post(
        client_for(world.referrer),
        referral,
        text="One more",
        files=[pdf_upload("extra.pdf", padding_bytes=MB)],
    )
    assert response.status_code == 400
    assert "a referral may hold at most 50.0" in response.content.decode()
    assert Message.objects.count() == 5
    assert Attachment.objects.count() == 5


def test_a_message_needs_text_or_a_file(world, referral, client_for):
    response = post(client_for(world.specialist), referral, text="   ")
    assert response.status_code == 400
    assert "Write a message or attach a file." in response.content.decode()
    assert not Message.objects.exists()


def test_every_stakeholder_but_the_authors_listing_is_emailed(
    world, referral, client_for, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(world.specialist), referral, text="Booked for Monday")
    recipients = sorted(address for m in mail.outbox for address in m.to)
    assert recipients == sorted(
        [world.practice_listing.notification_email, world.intake_listing.notification_email]
    )
    assert world.cardiology.notification_email not in recipients
    # Emails say where to read the message; they carry no patient information.
    for message in mail.outbox:
        assert "Tremblay" not in message.body and "Hélène" not in message.subject
        assert f"/referrals/{referral.pk}/" in message.body


def test_referrer_side_message_notifies_the_owners(
    world, referral, client_for, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(world.referrer), referral, text="Any update?")
    recipients = sorted(address for m in mail.outbox for address in m.to)
    assert recipients == sorted(
        [world.intake_listing.notification_email, world.cardiology.notification_email]
    )


def test_a_referrer_not_signed_in_is_emailed_at_their_address(
    world, client_for, django_capture_on_commit_callbacks
):
    referral = services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Omar Haddad",
        referrer_email="haddad@walkin.example",
        **PATIENT,
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(world.intake), referral, text="Received")
    assert [m.to for m in mail.outbox] == [["haddad@walkin.example"]]


def test_characters_emrs_cannot_receive_are_removed_and_the_author_told(
    world, referral, client_for
):
    client = client_for(world.specialist)
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(client, referral, text="BP\x07 120/80\x01.\nPlan: <b>&</b> rest"),
    )
    assert response.status_code == 302
    # Stored as every EMR shows it: markup reads as typed but cannot act as markup in OSCAR.
    assert Message.objects.get().text == "BP 120/80.\nPlan: <\u2060b>&<\u2060/b> rest"
    page = client.get(response["Location"]).content.decode()
    assert "2 invisible control character(s) that cannot be sent to EMRs were removed" in page
    assert "2 place(s) where a &lt; or &amp; would have started formatting in an EMR" in page
