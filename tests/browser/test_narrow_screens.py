"""At 390 px (a phone), no clinician page scrolls sideways: a wide list scrolls inside its own
box. The message's delivery details sit below its text and open from a summary."""

import pytest
from playwright.sync_api import expect

from hrm.models import HrmReport
from referrals import services

from ..factories import PASSWORD, pdf_upload
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_ERROR = (
    "The EMR of this recipient refused the report: Permission denied writing "
    "/inbox/a-very-long-folder-name-that-goes-on/" + "x" * 120
)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def failed_message(live):
    message = services.message_post(
        referral=live.referral,
        author=live.world.specialist,
        text="Seen today. Letter attached.",
        files=[pdf_upload("Consultation letter for the cardiology follow-up visit.pdf")],
    )
    HrmReport.objects.filter(message=message).update(
        status=HrmReport.Status.FAILED, last_error=LONG_ERROR, attempts=3
    )
    return message


def scrolls_sideways(page) -> bool:
    page.wait_for_load_state("load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    return page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth")


def test_no_clinician_page_scrolls_sideways_at_390_px(
    live, failed_message, live_server, phone, artifacts_dir
):
    world, referral = live.world, live.referral
    sign_in(phone, live_server, "dr.lee", PASSWORD)
    expect(phone.get_by_role("heading", name="Referrals")).to_be_visible()
    pages = [
        "/referrals/?folder=received",
        "/referrals/?folder=sent",
        "/referrals/new/",
        f"/referrals/{referral.pk}/",
        f"/referrals/{referral.pk}/messages/{failed_message.pk}/hrm/",
        "/directory/",
        "/directory/account/",
        f"/directory/listings/{world.cardiology.pk}/settings/",
    ]
    wide = []
    for path in pages:
        phone.goto(f"{live_server.url}{path}")
        if scrolls_sideways(phone):
            wide.append(path)
            name = path.strip("/").replace("/", "-").replace("?", "-")
            phone.screenshot(path=str(artifacts_dir / f"wide-390-{name}.png"), full_page=True)
    # A refused Send, with its errors, too.
    phone.goto(f"{live_server.url}/referrals/{referral.pk}/")
    phone.get_by_role("button", name="Send", exact=True).click()
    expect(phone.locator("#composer-errors")).to_be_visible()
    if scrolls_sideways(phone):
        wide.append("refused Send")
    assert wide == []


def test_delivery_details_sit_below_the_text_and_say_the_error_once(
    live, failed_message, live_server, page
):
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{live.referral.pk}/")
    article = page.locator(f"#message-{failed_message.pk}")
    status = article.locator(".hrm-status")
    text_box = article.locator(".pre").bounding_box()
    assert status.bounding_box()["y"] > text_box["y"] + text_box["height"] - 1
    table = status.get_by_role("table", name="HRM delivery of this message")
    expect(table).to_be_hidden()  # a summary that opens
    status.get_by_text("HRM delivery failed").click()
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    # Each recipient's parts together, what happened said once for them.
    for first, second in ((0, 1), (2, 3)):
        error = rows.nth(first).locator(".hrm-error").inner_text()
        assert error.strip() and "Same as above" not in error
        expect(rows.nth(second).locator(".hrm-error")).to_have_text("Same as above.")
