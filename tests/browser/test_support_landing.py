"""Support's console in Chromium at 1280 and 390 px: signing in lands on the delivery dashboard,
under the product's name and colours, and the admin names the sign-in apps in support's words."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from ..factories import PASSWORD, make_user
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PRODUCT_BLUE = "rgb(8, 74, 140)"  # the admin's header: static/css/admin-hrm.css


@pytest.fixture(params=[1280, 390], ids=lambda width: f"{width}px")
def sized_page(browser, request):
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def support(db):
    user = make_user(username="support.kim", is_staff=True, first_name="Kim")
    for codename in ("view_hrmreport", "view_accessattempt", "view_totpdevice"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_support_signs_in_to_the_dashboard_under_the_products_name(
    support, live_server, sized_page
):
    page = sized_page
    sign_in(page, live_server, "support.kim", PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/admin/hrm/console/dashboard/")
    expect(page.get_by_role("heading", name="HRM delivery dashboard")).to_be_visible()
    expect(page).to_have_title("HRM delivery dashboard | eReferral support")
    expect(page.locator("#site-name")).to_have_text("eReferral support")
    expect(page.locator("#header")).to_have_css("background-color", PRODUCT_BLUE)
    expect(page.get_by_text("Django")).to_have_count(0)
    expect(page.locator('[data-figure="failed-24h"]')).to_be_visible()
    expect(page.locator("dt", has_text="Deliveries that failed")).to_be_visible()

    page.goto(f"{live_server.url}/admin/")
    main = page.locator("#content-main")
    for name in ("Sign-in lockouts", "Second factor: authenticator apps"):
        expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(main.get_by_role("link", name="Failed sign-ins and lockouts")).to_be_visible()
    expect(main.get_by_role("link", name="Authenticator apps", exact=True)).to_be_visible()
    expect(page.get_by_text("AXES", exact=True)).to_have_count(0)
    expect(page.get_by_text("OTP_TOTP", exact=True)).to_have_count(0)
    if page.viewport_size["width"] == 390:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
