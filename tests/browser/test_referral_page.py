import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from referrals.models import Attachment
from referrals.sample_files import consultation_letter_pdf

from ..factories import PASSWORD
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_specialist_posts_a_letter_and_a_stranger_cannot_open_it(
    world, referral, live_server, page, artifacts_dir, tmp_path
):
    letter = tmp_path / "Consultation letter.pdf"
    letter.write_bytes(
        consultation_letter_pdf(["Consultation letter", "Impression: stable angina"])
    )

    sign_in(page, live_server, "dr.lee", PASSWORD)
    expect(page.get_by_role("heading", name="Referrals")).to_be_visible()
    page.get_by_role("link", name="Tremblay, Hélène").click()
    expect(page).to_have_title(re.compile(f"Referral #{referral.pk}"))

    page.get_by_role("textbox", name="Message").fill("Seen today. Letter attached.")
    page.get_by_label("Attach files").set_input_files(str(letter))
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("Message sent.")
    thread = page.locator("#thread")
    expect(thread.get_by_role("article")).to_have_count(1)
    expect(thread.get_by_text("Seen today. Letter attached.")).to_be_visible()
    download_link = thread.get_by_role("link", name="Consultation letter.pdf")
    expect(download_link).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "referral-page.png"), full_page=True)

    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == "Consultation letter.pdf"
    assert Path(download.path()).read_bytes() == letter.read_bytes()

    # Keyboard users land on the skip link first.
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()

    page.get_by_role("button", name=re.compile("Sign out")).click()
    sign_in(page, live_server, "dr.stranger", PASSWORD)
    attachment = Attachment.objects.get()
    for url in (
        f"/referrals/{referral.pk}/",
        f"/referrals/{referral.pk}/attachments/{attachment.pk}/",
    ):
        response = page.request.get(f"{live_server.url}{url}")
        assert response.status == 404, url
    page.goto(f"{live_server.url}/referrals/?folder=received")
    expect(page.get_by_text("Tremblay")).to_have_count(0)


def test_refused_file_shows_a_clear_error(world, referral, live_server, page, tmp_path):
    fake = tmp_path / "letter.pdf"
    fake.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 512)
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.get_by_label("Attach files").set_input_files(str(fake))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "“letter.pdf” is not an allowed file type"
    )
    expect(page.locator("#thread").get_by_role("article")).to_have_count(0)
