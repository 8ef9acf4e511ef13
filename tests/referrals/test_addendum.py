"""The addendum letter: any stakeholder downloads one message as a PDF with the referral's basic
details, the author with Professional ID and a signature line, the text and the attachments'
names. Read back with poppler's pdftotext, as a clinician's PDF reader would."""

import subprocess

import pytest

from audit.models import AccessEntry
from referrals import services

from ..factories import pdf_upload


def pdf_text(body: bytes, tmp_path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(body)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def message(world, referral):
    return services.message_post(
        referral=referral,
        author=world.specialist,
        text="Seen today. Plan: stress test.\nFollow-up with Dr. Nguyen.",
        files=[pdf_upload("Échocardiogramme.pdf")],
    )


def test_every_stakeholder_downloads_the_letter_with_accented_names_intact(
    world, referral, message, client_for, tmp_path
):
    url = f"/referrals/{referral.pk}/messages/{message.pk}/addendum.pdf"
    for member in (world.referrer, world.intake, world.specialist, world.colleague):
        response = client_for(member).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"]
    text = pdf_text(response.content, tmp_path)
    for expected in (
        "Addendum to referral",
        "Tremblay, Hélène",
        "1961-04-18",
        "Dr. Nguyen, Family Medicine",  # the referrer's listing
        "St. Brigid's Cardiology",  # the target
        str(referral.reference),
        f"Referral #{referral.pk}",
        "François Lee, Professional ID",
        "CPSO 67890",
        "Seen today. Plan: stress test.",
        "Follow-up with Dr. Nguyen.",
        "Échocardiogramme.pdf",
        "Signature:",
    ):
        assert expected in text, expected


def test_the_download_is_on_the_access_trail(world, referral, message, client_for):
    client_for(world.referrer).get(f"/referrals/{referral.pk}/messages/{message.pk}/addendum.pdf")
    entry = AccessEntry.objects.get(record="addendum letter")
    assert entry.action == "downloaded"
    assert entry.actor == world.referrer
    assert entry.object_id == message.pk


def test_a_stranger_gets_a_404(world, referral, message, client_for):
    response = client_for(world.stranger).get(
        f"/referrals/{referral.pk}/messages/{message.pk}/addendum.pdf"
    )
    assert response.status_code == 404
    assert not AccessEntry.objects.filter(record="addendum letter").exists()


def test_the_page_links_each_message_to_its_letter(world, referral, message, client_for):
    page = client_for(world.referrer).get(f"/referrals/{referral.pk}/").content.decode()
    assert f"/referrals/{referral.pk}/messages/{message.pk}/addendum.pdf" in page


def test_the_same_message_gives_the_same_bytes(message):
    # HRM carries one copy per recipient: OSCAR and Open-O hide one of two different contents.
    from referrals.addendum import addendum_letter_pdf

    assert addendum_letter_pdf(message) == addendum_letter_pdf(message)
