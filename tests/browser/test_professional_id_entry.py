"""Typing a Professional ID as people type it, in a real browser, and reading back what was saved:
a browser silently cuts typing at an input's maxlength, which once turned "CPSO 24680" into
D2468, another clinician's ID."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from directory.models import Listing, User

from ..factories import PASSWORD
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cpso_24680_is_saved_whole_on_my_account_and_on_a_listing(world, live_server, page):
    sign_in(page, live_server, "dr.patel", PASSWORD)
    page.goto(f"{live_server.url}/directory/account/")
    field = page.get_by_label("Professional ID")
    field.fill("")
    field.press_sequentially("CPSO 24680")  # keystroke by keystroke, as a person types
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_contain_text("with Professional ID CPSO 24680.")
    expect(page.get_by_label("Professional ID")).to_have_value("CPSO 24680")
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == "D24680"

    # Support checks the ID against the college's register: Dr. Patel may now make a listing hers.
    User.objects.filter(pk=world.colleague.pk).update(professional_id_verified_at=timezone.now())
    page.goto(f"{live_server.url}/directory/listings/{world.cardiology.pk}/settings/")
    page.get_by_label("First name").fill("Priya")
    page.get_by_label("Surname").fill("Patel")
    field = page.get_by_label("Professional ID")
    field.fill("")
    field.press_sequentially("cpso 24680")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_contain_text("with Professional ID CPSO 24680.")
    expect(page.get_by_label("Professional ID")).to_have_value("CPSO 24680")
    assert Listing.objects.get(pk=world.cardiology.pk).clinician_professional_id == "D24680"
