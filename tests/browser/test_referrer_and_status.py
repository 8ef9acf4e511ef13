"""In Chromium, at 1280 and 390 px: a referrer without an account follows the emailed link,
proves who they are with the emailed code, reads the thread, replies with a file and signs out;
a stranger with the link sees nothing; access expires. A clinician declines with a reason
(the referrer is emailed) and re-opens; Needs Review marks appear and clear. Screenshots for
docs/features.md are kept in test-artifacts/."""

import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from playwright.sync_api import expect

from referrals import services
from referrals.models import Message, Referral
from referrals.referrer_access import SESSION_KEY
from referrals.sample_files import consultation_letter_pdf

from ..factories import PASSWORD, PATIENT
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REFERRER_EMAIL = "o.haddad@walkin.example"
WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def width(request):
    return request.param


@pytest.fixture
def screen(browser, width):
    """A fresh browser (its own cookies) at the test's width."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def public_referral(world, settings, live_server):
    settings.SITE_URL = live_server.url
    return services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Omar Haddad",
        referrer_email=REFERRER_EMAIL,
        **PATIENT,
    )


def last_email_to(address, subject_part=""):
    sent = [m for m in mail.outbox if m.to == [address] and subject_part in m.subject]
    assert sent, f"no email to {address} about {subject_part!r}"
    return sent[-1]


def link_in(email) -> str:
    return re.search(r"https?://\S+/referrals/follow/[0-9a-f-]+/", email.body).group(0)


def no_sideways_scroll(page, width):
    wider = page.evaluate(
        """width => [...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-scroll'))
        .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""",
        width,
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width, wider


def test_a_referrer_without_an_account_reads_and_answers_the_thread(
    world, public_referral, screen, width, tmp_path, artifacts_dir
):
    mail.outbox.clear()
    services.message_post(
        referral=public_referral, author=world.intake, text="Please send the MRI report."
    )
    email = last_email_to(REFERRER_EMAIL, "New message")
    assert "Tremblay" not in email.body and "MRI" not in email.body
    link = link_in(email)

    page = screen()
    page.goto(link)
    expect(page.get_by_role("heading", name="Read your referral")).to_be_visible()
    expect(page.get_by_text("Tremblay")).to_have_count(0)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("status")).to_contain_text("a code is on its way")
    code = re.search(r"code is (\d{6})", last_email_to(REFERRER_EMAIL, "code").body).group(1)
    if width == 1280:
        page.screenshot(path=str(artifacts_dir / "referrer-code.png"), full_page=True)
    # A typo first, then the code as the email shows it.
    page.get_by_label("Code from the email").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Open the referral").click()
    expect(page.get_by_role("alert").first).to_contain_text("This code is not right")
    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Open the referral").click()

    expect(page.get_by_role("heading", name=re.compile("Tremblay, Hélène"))).to_be_visible()
    thread = page.locator("#thread")
    expect(thread.get_by_text("Please send the MRI report.")).to_be_visible()
    no_sideways_scroll(page, width)

    report = tmp_path / "MRI report.pdf"
    report.write_bytes(consultation_letter_pdf(["MRI right knee", "Meniscal tear"]))
    page.get_by_role("textbox", name="Message").fill("MRI report attached.\n  Thanks!")
    page.get_by_label("Attach files").set_input_files(str(report))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Message sent.")
    expect(thread.get_by_text("You (Dr. Omar Haddad)")).to_be_visible()
    download_link = thread.get_by_role("link", name="MRI report.pdf")
    expect(download_link).to_be_visible()
    with page.expect_download() as download_info:
        download_link.click()
    assert download_info.value.suggested_filename == "MRI report.pdf"
    reply = Message.objects.get(author__isnull=True)
    assert reply.text.startswith("MRI report attached.")
    assert reply.attachments.get().original_name == "MRI report.pdf"
    # The intake is told; the referrer is not emailed about their own reply.
    assert last_email_to(world.intake_listing.notification_email, "New message")
    if width == 1280:
        page.screenshot(path=str(artifacts_dir / "referrer-thread.png"), full_page=True)

    # A stranger with the link (another browser) sees the code page and nothing else.
    stranger = screen()
    stranger.goto(link)
    expect(stranger.get_by_role("heading", name="Read your referral")).to_be_visible()
    expect(stranger.get_by_text("Tremblay")).to_have_count(0)
    stranger.get_by_role("button", name="Email me a code").click()
    stranger.get_by_label("Code from the email").fill(code)  # already used
    stranger.get_by_role("button", name="Open the referral").click()
    expect(stranger.get_by_role("alert").first).to_contain_text("This code is not right")
    expect(stranger.get_by_text("Tremblay")).to_have_count(0)
    attachment = reply.attachments.get()
    response = stranger.request.get(f"{link}attachments/{attachment.pk}/")
    assert response.status == 404

    # The access expires: the page asks for a new code, and a reply is not sent.
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[SESSION_KEY] = {str(public_referral.pk): 0}
    session.save()
    page.get_by_role("textbox", name="Message").fill("Are you there?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("Your access ended.")).to_be_visible()
    expect(page.get_by_role("heading", name="Read your referral")).to_be_visible()
    assert not Message.objects.filter(text="Are you there?").exists()

    # A new code, then sign out.
    page.get_by_role("button", name="Email me a code").click()
    code = re.search(r"code is (\d{6})", last_email_to(REFERRER_EMAIL, "code").body).group(1)
    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Open the referral").click()
    expect(page.get_by_role("heading", name=re.compile("Tremblay, Hélène"))).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_text("Tremblay")).to_have_count(0)


def test_a_clinician_declines_with_a_reason_the_referrer_is_told_and_it_is_reopened(
    world, public_referral, screen, width, live_server, artifacts_dir
):
    page = screen()
    sign_in(page, live_server, "rn.okafor", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{public_referral.pk}/")
    # Accept is the filled button; Decline is a plain link to a confirmation.
    accept = page.get_by_role("button", name="Accept", exact=True)
    expect(accept).to_be_visible()
    page.get_by_role("link", name="Decline…").click()
    expect(
        page.get_by_role("heading", name=f"Decline referral #{public_referral.pk}?")
    ).to_be_visible()
    reason = page.get_by_label("Reason")
    page.get_by_role("button", name="Decline referral").click()  # the browser asks first
    assert reason.evaluate("field => field.validity.valueMissing")
    reason.fill("   ")
    page.get_by_role("button", name="Decline referral").click()
    expect(page.get_by_text("Give the reason for declining.").first).to_be_visible()
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.NEW
    mail.outbox.clear()
    reason.fill("Not our service: please refer to sports medicine.")
    if width == 1280:
        page.screenshot(path=str(artifacts_dir / "decline-confirm.png"), full_page=True)
    page.get_by_role("button", name="Decline referral").click()
    expect(page.get_by_role("status").first).to_contain_text("Referral is now declined.")
    expect(
        page.get_by_text("Declined. Reason: Not our service: please refer to sports medicine.")
    ).to_be_visible()
    no_sideways_scroll(page, width)
    email = last_email_to(REFERRER_EMAIL, "declined")
    assert "Tremblay" not in email.body and "sports" not in email.body

    # The referrer follows the email's link and reads the reason.
    referrer = screen()
    referrer.goto(link_in(email))
    referrer.get_by_role("button", name="Email me a code").click()
    code = re.search(r"code is (\d{6})", last_email_to(REFERRER_EMAIL, "code").body).group(1)
    referrer.get_by_label("Code from the email").fill(code)
    referrer.get_by_role("button", name="Open the referral").click()
    expect(referrer.get_by_text("Declined", exact=True).first).to_be_visible()
    expect(referrer.get_by_text("Reason: Not our service")).to_be_visible()

    page.get_by_role("button", name="Re-open referral").click()
    expect(page.get_by_role("status").first).to_contain_text("Referral is now new.")
    public_referral.refresh_from_db()
    assert public_referral.status == Referral.Status.NEW
    assert last_email_to(REFERRER_EMAIL, "re-opened")

    # Booking holds the date and time typed.
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Referral is now accepted.")
    page.get_by_label("Appointment date").fill("2027-01-15")
    page.get_by_label("Time").fill("09:30")
    page.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_role("status").first).to_contain_text("booked for 2027-01-15 09:30")
    expect(page.locator(".status-line")).to_contain_text("appointment 2027-01-15 09:30")
    assert last_email_to(REFERRER_EMAIL, "appointment booked")
    no_sideways_scroll(page, width)


def test_needs_review_marks_appear_and_clear(
    world, referral, screen, width, live_server, artifacts_dir
):
    services.message_post(referral=referral, author=world.specialist, text="Seen today.")
    page = screen()
    sign_in(page, live_server, "dr.nguyen", PASSWORD)
    tab = page.get_by_role("link", name=re.compile("Needs Review"))
    expect(tab).to_contain_text("1")
    tab.click()
    row = page.get_by_role("row", name=re.compile("Tremblay, Hélène"))
    expect(row).to_contain_text("Needs review")
    no_sideways_scroll(page, width)
    if width == 1280:
        page.screenshot(path=str(artifacts_dir / "needs-review.png"), full_page=True)
    row.get_by_role("link", name="Tremblay, Hélène").click()
    message = page.locator("article", has_text="Seen today.")
    expect(message.get_by_text("Needs review")).to_be_visible()
    message.get_by_role("button", name=re.compile("Mark as reviewed")).click()
    expect(page.get_by_role("status").first).to_contain_text("Marked as reviewed.")
    expect(
        page.locator("article", has_text="Seen today.").get_by_text("Needs review")
    ).to_have_count(0)
    # The forwarding is still to review: the whole referral at once.
    page.get_by_role("button", name="Mark referral as reviewed").click()
    expect(page.get_by_text("Needs review")).to_have_count(0)
    page.get_by_role("link", name="Referrals", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Needs Review"))).to_have_text("Needs Review")
    page.get_by_role("link", name=re.compile("Needs Review")).click()
    expect(page.get_by_text("Nothing to review.")).to_be_visible()
    # Another user of a stakeholder site still has it to review.
    other = screen()
    sign_in(other, live_server, "rn.okafor", PASSWORD)
    expect(other.get_by_role("link", name=re.compile("Needs Review"))).to_contain_text("1")
