"""Amend and Delete of one's own message in a real browser at 1280 px: the composer opens on the
message with its file ticked, the thread then shows the new version marked "Amended" with the
old one behind one click; Delete asks for a reason on its own page and leaves the marker."""

import pytest
from playwright.sync_api import expect

from referrals import services
from referrals.models import Message

from ..factories import PASSWORD, pdf_upload
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def letter(world, referral):
    return services.message_post(
        referral=referral,
        author=world.specialist,
        text="Seen today. Plan: stress test.",
        files=[pdf_upload("Consultation letter.pdf")],
    )


def test_amend_removes_the_file_and_keeps_the_earlier_version_one_click_away(
    world, referral, letter, live_server, page
):
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.get_by_role("link", name="Amend this message").click()
    text = page.get_by_role("textbox", name="Amended message")
    expect(text).to_have_value("Seen today. Plan: stress test.")
    pdf_box = page.get_by_role("checkbox", name="Consultation letter.pdf")
    expect(pdf_box).to_be_checked()
    text.fill("Seen today. Plan: echo instead.")
    pdf_box.uncheck()
    page.get_by_role("button", name="Send the amendment").click()

    expect(page.get_by_role("status")).to_contain_text("Message amended.")
    new = Message.objects.get(previous_version=letter)
    article = page.locator(f"#message-{new.pk}")
    expect(article).to_contain_text("Amended on")
    expect(article).to_contain_text("Plan: echo instead.")
    earlier = article.get_by_text("Seen today. Plan: stress test.")
    expect(earlier).to_be_hidden()
    article.get_by_text("Earlier version").click()
    expect(earlier).to_be_visible()
    expect(article.get_by_role("link", name="Consultation letter.pdf")).to_be_visible()


def test_delete_asks_for_a_reason_and_leaves_the_marker(world, referral, letter, live_server, page):
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.get_by_role("link", name="Delete this message").click()
    page.get_by_role("button", name="Delete the message").click()
    expect(page.get_by_role("textbox", name="Reason")).to_be_focused()  # the browser asks first
    page.get_by_role("textbox", name="Reason").fill("Sent for the wrong patient.")
    page.get_by_role("button", name="Delete the message").click()

    expect(page.get_by_role("status")).to_contain_text("Message deleted")
    article = page.locator(f"#message-{letter.pk}")
    expect(article).to_contain_text("Withdrawn by its author on")
    expect(article).to_contain_text("Sent for the wrong patient.")
    expect(article).not_to_contain_text("stress test")
    assert Message.objects.get(pk=letter.pk).is_withdrawn
