"""A shared workstation: after signing out, Back must not show the patient's referral, and
the pages run under the Content-Security-Policy without a single violation."""

import re

import pytest
from playwright.sync_api import expect

from ..factories import PASSWORD
from .conftest import CHROMIUM_ARGS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_with_back_forward_cache(browser):
    """Playwright turns Chromium's back/forward cache off; a person's browser has it on, and it
    is what would bring the page back whole."""
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
    own.close()


def test_back_after_sign_out_shows_no_patient_data(
    world, referral, live_server, page_with_back_forward_cache
):
    page = page_with_back_forward_cache
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    sign_in(page, live_server, "dr.lee", PASSWORD)
    # The search is posted: the surname never appears in the address bar.
    page.get_by_label("Search by patient name").fill("Tremblay")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Tremblay, Hélène")).to_be_visible()
    assert "Tremblay" not in page.url
    page.get_by_role("link", name="Tremblay, Hélène").click()
    expect(page).to_have_title(re.compile(f"Referral #{referral.pk}"))
    expect(page.get_by_text("9876-543-217")).to_be_visible()

    page.get_by_role("button", name=re.compile("Sign out")).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # A page restored from the back/forward cache fires no "load": wait for the navigation only.
    page.go_back(wait_until="commit")
    # Back reloads from the server (the page was no-store), which sends to sign-in.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Tremblay")).to_have_count(0)
    expect(page.get_by_text("9876-543-217")).to_have_count(0)
    page.go_back(wait_until="commit")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Tremblay, Hélène")).to_have_count(0)
    assert violations == []
