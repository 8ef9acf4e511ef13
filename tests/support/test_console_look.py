"""Support's console is the product's: its name, not Django's; staff land on the dashboard, not
on an empty clinician inbox; the sign-in apps in support's words."""

import pytest
from django.test import Client

from ..factories import PASSWORD, make_user

DASHBOARD = "/admin/hrm/console/dashboard/"


def sign_in(username: str, path: str = "/login/", **extra) -> Client:
    client = Client()
    response = client.post(path, {"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 302, response.content.decode()[:500]
    client.landed = client.get(response["Location"], follow=True)
    client.landed_at = ([response["Location"]] + [u for u, _ in client.landed.redirect_chain])[-1]
    return client


@pytest.mark.django_db
def test_support_signing_in_lands_on_the_dashboard(support):
    client = sign_in(support.username)
    assert client.landed_at == DASHBOARD
    assert client.get("/").url == "/admin/hrm/console/"
    assert client.get("/admin/hrm/console/").url == DASHBOARD


@pytest.mark.django_db
def test_support_signing_in_on_the_admins_page_lands_on_the_dashboard_too(support):
    login_page = Client().get("/admin/login/").content.decode()
    assert 'name="next" value="/admin/hrm/console/"' in login_page
    client = sign_in(support.username, "/admin/login/", next="/admin/hrm/console/")
    assert client.landed_at == DASHBOARD
    assert client.get("/admin/login/").url == "/admin/hrm/console/"


@pytest.mark.django_db
def test_staff_who_may_not_see_reports_land_on_the_admin_index(db):
    make_user(username="helpdesk", is_staff=True)
    client = sign_in("helpdesk")
    assert client.landed_at == "/admin/"
    assert client.landed.status_code == 200


@pytest.mark.django_db
def test_a_clinician_still_lands_on_their_referrals(world):
    client = sign_in("dr.nguyen")
    assert client.landed_at == "/referrals/"
    assert client.get("/").url == "/referrals/"


@pytest.mark.django_db
def test_a_next_page_asked_for_is_kept(support):
    client = Client()
    response = client.post(
        "/login/?next=/admin/hrm/hrmreport/",
        {"username": support.username, "password": PASSWORD, "next": "/admin/hrm/hrmreport/"},
    )
    assert response["Location"] == "/admin/hrm/hrmreport/"


@pytest.mark.django_db
def test_the_admin_carries_the_products_name_and_support_words(support, client_for):
    html = client_for(support).get("/admin/").content.decode()
    assert "Django" not in html
    assert "<title>Support console | eReferral support</title>" in html
    assert ">eReferral support</a>" in html
    for words in (
        "Sign-in lockouts",
        "Failed sign-ins and lockouts",
        "Sign-in history",
        "Second factor: backup codes",
        "Backup code sets",
        "Second factor: authenticator apps",
        "Authenticator apps",
    ):
        assert words in html, words
    for jargon in ("Axes", "Otp_static", "Otp_totp", "TOTP devices", "Static devices"):
        assert jargon not in html, jargon
    lockouts = client_for(support).get("/admin/axes/").content.decode()
    assert "Sign-in lockouts" in lockouts and "Axes" not in lockouts
