"""The referral forms in Chromium at 1280 and 390 px: no sex is chosen for the user, and a date
of birth is typed, kept and shown as year-month-day (a browser's date input showed mm/dd/yyyy while
every page shows 1961-04-18)."""

import datetime

import pytest
from playwright.sync_api import expect

from referrals.models import Referral

from ..factories import PASSWORD
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def sized_page(browser, request):
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def fill_patient(page, birth_date: str):
    referring_as = page.get_by_label("Referring as")
    if referring_as.count():
        referring_as.select_option(label="Dr. Nguyen, Family Medicine")
    page.get_by_label("Legal first name").fill("Hélène")
    page.get_by_label("Legal last name").fill("Tremblay")
    field = page.get_by_label("Date of birth")
    field.fill("")
    field.press_sequentially(birth_date)  # keystroke by keystroke, as a person types
    page.get_by_label("Health card number").fill("9876-543-217")
    page.get_by_label("Version code").fill("AB")
    page.get_by_label("Reason for referral").fill("Palpitations.")


def test_new_referral_has_no_sex_chosen_and_keeps_the_date_as_typed(world, live_server, sized_page):
    page = sized_page
    sign_in(page, live_server, "dr.nguyen", PASSWORD)
    page.goto(f"{live_server.url}/referrals/new/?to={world.cardiology.pk}")

    sex = page.get_by_label("Sex")
    expect(sex).to_have_value("")
    expect(sex.locator("option:checked")).to_have_text("Choose…")
    birth_date = page.get_by_label("Date of birth")
    expect(birth_date).to_have_attribute("placeholder", "yyyy-mm-dd")
    expect(birth_date).to_have_accessible_description("Year-month-day, for example 1961-04-18.")

    fill_patient(page, "1961-04-18")
    page.get_by_role("button", name="Send referral").click()

    # Nothing is sent without a sex; the typed date comes back as typed.
    expect(page.get_by_text("Choose the patient's sex, as on the health card.")).to_be_visible()
    expect(page.get_by_label("Date of birth")).to_have_value("1961-04-18")
    assert not Referral.objects.exists()

    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_role("button", name="Send referral").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Tremblay")
    expect(page.locator("dt:text-is('Date of birth') + dd")).to_have_text("1961-04-18")
    referral = Referral.objects.get()
    assert referral.patient_birth_date == datetime.date(1961, 4, 18)
    assert referral.patient_sex == Referral.Sex.FEMALE


def test_a_date_typed_month_first_is_refused_clearly_and_kept(world, live_server, sized_page):
    page = sized_page
    sign_in(page, live_server, "dr.nguyen", PASSWORD)
    page.goto(f"{live_server.url}/referrals/new/?to={world.cardiology.pk}")

    fill_patient(page, "04/05/1961")  # April or May? It cannot be read one way only.
    page.get_by_label("Sex").select_option(label="Male")
    page.get_by_role("button", name="Send referral").click()

    expect(
        page.get_by_text("Enter the date as year-month-day, for example 1961-04-18.")
    ).to_be_visible()
    expect(page.get_by_label("Date of birth")).to_have_value("04/05/1961")
    expect(page.get_by_label("Sex")).to_have_value(Referral.Sex.MALE)
    assert not Referral.objects.exists()


def test_public_form_has_no_sex_chosen_and_takes_the_date_without_dashes(
    world, live_server, sized_page
):
    page = sized_page
    page.goto(f"{live_server.url}/referrals/listings/{world.intake_listing.pk}/refer/")
    expect(page.get_by_label("Sex")).to_have_value("")

    page.get_by_label("Your name").fill("Dr. Marc Roy")
    page.get_by_label("Your email").fill("marc.roy@example.org")
    fill_patient(page, "19610418")
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_role("button", name="Send referral").click()

    expect(page.get_by_role("heading", level=1)).to_be_visible()
    referral = Referral.objects.get()
    assert referral.patient_birth_date == datetime.date(1961, 4, 18)
    assert referral.patient_sex == Referral.Sex.FEMALE
