"""In Chromium: copying a referral to a listing (1280 and 390 px), a private note only its site
sees, and a canned response inserted into the composer."""

import re

import pytest
from playwright.sync_api import expect

from ..factories import PASSWORD, make_listing, make_site, make_user
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_as(browser, live_server, username, width=1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, live_server, username, PASSWORD)
    expect(page.get_by_role("heading", name="Referrals")).to_be_visible()
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_the_target_copies_a_listing_whose_member_then_reads_the_thread(
    world, referral, live_server, browser, artifacts_dir, width
):
    site = make_site("Riverside Physiotherapy")
    make_user(site, "pt.roy", first_name="Élodie", last_name="Roy")
    make_listing(site, "Riverside Physio", service="Physiotherapy")
    url = f"{live_server.url}/referrals/{referral.pk}/"

    member = open_as(browser, live_server, "pt.roy", width)
    assert member.goto(url).status == 404

    specialist = open_as(browser, live_server, "dr.lee", width)
    specialist.goto(url)
    specialist.get_by_role("combobox", name="Copy status updates to").select_option(
        label="Riverside Physio"
    )
    specialist.get_by_role("button", name="Add copy").click()
    expect(specialist.get_by_role("status")).to_contain_text(
        "Status updates are now copied to Riverside Physio."
    )
    stakeholders = specialist.get_by_role("region", name="Stakeholders")
    expect(stakeholders).to_contain_text("Riverside Physio · Riverside Physiotherapy (copied)")
    specialist.get_by_role("textbox", name="Message").fill("Booked for May 2.")
    specialist.get_by_role("button", name="Send", exact=True).click()
    expect(specialist.get_by_role("status")).to_contain_text("Message sent.")
    specialist.screenshot(path=str(artifacts_dir / f"copies-{width}.png"), full_page=True)

    assert member.goto(url).status == 200
    expect(member).to_have_title(re.compile(f"Referral #{referral.pk}"))
    expect(member.locator("#thread").get_by_text("Booked for May 2.")).to_be_visible()

    specialist.get_by_role("button", name="Stop copying Riverside Physio").click()
    expect(specialist.get_by_role("status")).to_contain_text("no longer copied")
    assert member.goto(url).status == 404


def test_a_private_note_is_marked_for_its_site_and_absent_for_the_other(
    world, referral, live_server, browser
):
    url = f"{live_server.url}/referrals/{referral.pk}/"
    specialist = open_as(browser, live_server, "dr.lee")
    specialist.goto(url)
    specialist.get_by_role("textbox", name="Message").fill("Daughter asks: no calls before 10.")
    where = specialist.get_by_role("region", name="Where this message will go")
    expect(where).to_be_visible()
    specialist.get_by_role("checkbox", name="Private note: only my site sees it").check()
    # Before Send, the composer no longer lists the stakeholders it would go to.
    expect(where).to_be_hidden()
    private_route = specialist.locator(".composer-private-route")
    expect(private_route).to_be_visible()
    expect(private_route).to_contain_text("Nobody is emailed and no EMR")
    specialist.get_by_role("button", name="Send", exact=True).click()
    expect(specialist.get_by_role("status")).to_contain_text("Private note saved.")
    note = specialist.locator("#thread").get_by_role("article")
    expect(note).to_contain_text("Private to St. Brigid's Hospital")
    expect(note).to_contain_text("Daughter asks: no calls before 10.")

    colleague = open_as(browser, live_server, "dr.patel")
    colleague.goto(url)
    expect(colleague.locator("#thread")).to_contain_text("Daughter asks: no calls before 10.")

    referrer = open_as(browser, live_server, "dr.nguyen")
    referrer.goto(url)
    expect(referrer.locator("#thread").get_by_role("article")).to_have_count(0)
    expect(referrer.locator("#thread")).not_to_contain_text("Daughter")


def test_a_member_keeps_a_canned_response_and_inserts_it_into_the_composer(
    world, referral, live_server, browser
):
    specialist = open_as(browser, live_server, "dr.lee")
    specialist.goto(f"{live_server.url}/referrals/{referral.pk}/")
    specialist.get_by_role("link", name="add your site's").click()
    specialist.get_by_role("textbox", name="Name").fill("Booked")
    specialist.get_by_role("textbox", name="Text").fill("Booked for May 2 at 9:00; fasting.")
    specialist.get_by_role("button", name="Save").click()
    expect(specialist.get_by_role("status")).to_contain_text("Canned response “Booked” saved.")
    expect(specialist.get_by_role("table")).to_contain_text("Booked for May 2 at 9:00; fasting.")

    specialist.goto(f"{live_server.url}/referrals/{referral.pk}/")
    composer = specialist.get_by_role("textbox", name="Message")
    composer.fill("Dear Dr. Nguyen,")
    specialist.get_by_role("combobox", name="Canned response").select_option(label="Booked")
    specialist.get_by_role("button", name="Insert").click()
    expect(composer).to_have_value("Dear Dr. Nguyen,\nBooked for May 2 at 9:00; fasting.")
    specialist.get_by_role("button", name="Send", exact=True).click()
    expect(specialist.get_by_role("status")).to_contain_text("Message sent.")
    expect(specialist.locator("#thread").get_by_role("article")).to_contain_text(
        "Booked for May 2 at 9:00; fasting."
    )
