"""The composer in a real browser: Back after Send then Send posts nothing new; a refused message
lands on its error with the text kept; a file name with a quote arrives as typed."""

import pytest
from playwright.sync_api import expect

from referrals.models import Attachment, Message
from referrals.sample_files import consultation_letter_pdf

from ..factories import PASSWORD
from .conftest import CHROMIUM_ARGS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["without", "with"])
def any_page(request, browser):
    """Chromium with its back/forward cache off (Playwright's default) and on (a person's)."""
    if request.param == "without":
        own, context = None, browser.new_context(viewport={"width": 1280, "height": 900})
    else:
        own = browser.browser_type.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--disable-back-forward-cache"],
        )
        context = own.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    if own:
        own.close()


def test_back_after_send_then_send_posts_nothing_new(world, referral, live_server, any_page):
    page = any_page
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.get_by_role("textbox", name="Message").fill("Booked for Monday 09:30.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Message sent.")

    page.go_back()
    # The browser brings back the composed text, as it does for people.
    expect(page.get_by_role("textbox", name="Message")).to_have_value("Booked for Monday 09:30.")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("This message was already sent")
    message = Message.objects.get()
    assert page.url.endswith(f"#message-{message.pk}")
    expect(page.locator(f"#message-{message.pk}")).to_be_in_viewport()
    expect(page.locator("#thread").get_by_role("article")).to_have_count(1)
    assert Message.objects.count() == 1


@pytest.mark.parametrize("width", [1280, 390])
def test_a_refused_message_lands_on_its_error_with_the_text_kept(
    world, referral, live_server, browser, tmp_path, width, artifacts_dir
):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    fake = tmp_path / "letter.pdf"
    fake.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 512)
    text = "    Seen today.\n\n    Plan:\n    - echo in 2 weeks"
    try:
        sign_in(page, live_server, "dr.lee", PASSWORD)
        page.goto(f"{live_server.url}/referrals/{referral.pk}/")
        page.get_by_role("textbox", name="Message").fill(text)
        page.get_by_label("Attach files").set_input_files(str(fake))
        page.get_by_role("button", name="Send", exact=True).click()

        summary = page.locator("#composer-errors")
        expect(summary).to_contain_text("Your message was not sent.")
        expect(summary).to_contain_text("“letter.pdf” is not an allowed file type")
        expect(summary).to_contain_text("Your text is kept below.")
        expect(summary).to_contain_text("Files are not kept: choose the file again")
        expect(summary).to_be_in_viewport()
        expect(summary).to_be_focused()
        expect(page.get_by_role("textbox", name="Message")).to_have_value(text)
        page.screenshot(path=str(artifacts_dir / f"composer-refused-{width}.png"))
        assert not Message.objects.exists()

        # Choose a good file and Send: the kept text goes, indentation and blank line included.
        letter = tmp_path / "Consultation letter.pdf"
        letter.write_bytes(consultation_letter_pdf(["Consultation letter"]))
        page.get_by_label("Attach files").set_input_files(str(letter))
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Message sent.")
        assert Message.objects.get().text == text
        expect(page.locator("article.message .pre")).to_have_text(text)
    finally:
        context.close()


def test_a_file_named_with_quotes_arrives_as_named(world, referral, live_server, page, tmp_path):
    letter = tmp_path / 'Letter "final" v2.pdf'
    letter.write_bytes(consultation_letter_pdf(["Consultation letter"]))
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.get_by_label("Attach files").set_input_files(str(letter))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Message sent.")
    assert Attachment.objects.get().original_name == 'Letter "final" v2.pdf'
    expect(
        page.locator("#thread").get_by_role("link", name='Letter "final" v2.pdf')
    ).to_be_visible()
