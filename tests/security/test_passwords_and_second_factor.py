"""Self-service password change and reset, and a second factor for staff in the admin."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..factories import PASSWORD

NEW_PASSWORD = "a-new-Passphrase-2027"


def test_a_clinician_changes_their_password(world, client):
    client.post("/login/", {"username": "dr.nguyen", "password": PASSWORD})
    assert "Change your password" in client.get("/directory/account/").content.decode()
    response = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/password/change/done/"
    assert client.get("/referrals/").status_code == 200  # still signed in here
    world.referrer.refresh_from_db()
    assert world.referrer.check_password(NEW_PASSWORD)


def test_a_wrong_old_password_changes_nothing(world, client_for):
    response = client_for(world.referrer).post(
        "/password/change/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    world.referrer.refresh_from_db()
    assert world.referrer.check_password(PASSWORD)


def test_anonymous_cannot_change_a_password(client):
    response = client.get("/password/change/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_forgotten_password_is_reset_by_email_once(world, client, settings):
    settings.SITE_URL = "https://ereferral.example"
    assert "Forgot your password?" in client.get("/login/").content.decode()
    response = client.post("/password/reset/", {"email": world.referrer.email})
    assert response.status_code == 302
    [email] = mail.outbox
    assert email.to == [world.referrer.email]
    assert "Tremblay" not in email.body
    link = re.search(r"https://ereferral\.example(/password/reset/\S+/)", email.body)[1]
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    world.referrer.refresh_from_db()
    assert world.referrer.check_password(NEW_PASSWORD)
    # The link works once.
    assert "already used or is too old" in client.get(link, follow=True).content.decode()


@pytest.mark.parametrize("host", ["attacker.example", "localhost"])
def test_the_reset_link_comes_from_site_url_whatever_the_host_header(world, settings, host):
    settings.SITE_URL = "https://ereferral.example"
    settings.ALLOWED_HOSTS = ["ereferral.example", "attacker.example", "localhost"]
    response = Client().post("/password/reset/", {"email": world.referrer.email}, HTTP_HOST=host)
    assert response.status_code == 302
    [email] = mail.outbox
    [link] = re.findall(r"\S+://\S+", email.body)
    assert link.startswith("https://ereferral.example/password/reset/")
    assert host not in email.body and host not in email.subject


def test_an_unknown_address_is_told_the_same_and_sent_nothing(world, client):
    response = client.post("/password/reset/", {"email": "nobody@example.org"}, follow=True)
    assert "If the address belongs to an account" in response.content.decode()
    assert mail.outbox == []


def test_password_reset_requests_are_throttled(world):
    client = Client()
    statuses = [
        client.post("/password/reset/", {"email": world.referrer.email}).status_code
        for _ in range(7)
    ]
    assert statuses == [302] * 5 + [429] * 2
    assert len(mail.outbox) == 5


# --- A second factor for staff -----------------------------------------------------------------


@pytest.fixture
def otp_on(settings):
    settings.ADMIN_REQUIRE_OTP = True


def _totp_token(device):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(device.digits)


def test_staff_without_a_second_factor_are_not_let_in(
    otp_on, superuser, support_viewer, client_for
):
    for persona in (superuser, support_viewer):
        response = client_for(persona).get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        response = client_for(persona).get("/admin/audit/accessentry/")
        assert response.status_code == 302


def test_the_password_alone_does_not_open_the_admin(otp_on, superuser):
    TOTPDevice.objects.create(user=superuser, name="phone")
    client = Client()
    page = client.get("/admin/login/").content.decode()
    assert 'name="otp_token"' in page
    response = client.post(
        "/admin/login/", {"username": superuser.username, "password": PASSWORD, "otp_token": ""}
    )
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
    device = TOTPDevice.objects.get(user=superuser)
    wrong = "000000" if _totp_token(device) != "000000" else "111111"
    client.post(
        "/admin/login/",
        {
            "username": superuser.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": wrong,
        },
    )
    assert client.get("/admin/").status_code == 302


def test_password_and_authenticator_code_open_the_admin(otp_on, superuser):
    device = TOTPDevice.objects.create(user=superuser, name="phone")
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": superuser.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _totp_token(device),
            "next": "/admin/",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get("/admin/").status_code == 200


def test_a_one_time_static_code_gets_the_first_staff_member_in(otp_on, superuser):
    device = StaticDevice.objects.create(user=superuser, name="backup")
    device.token_set.create(token="first-in-123")
    client = Client()
    data = {
        "username": superuser.username,
        "password": PASSWORD,
        "otp_device": device.persistent_id,
        "otp_token": "first-in-123",
    }
    assert client.post("/admin/login/", data).status_code == 302
    assert client.get("/admin/").status_code == 200
    # Used once: it does not work again.
    other = Client()
    assert other.post("/admin/login/", data).status_code == 200


def test_clinicians_never_need_a_second_factor(otp_on, world, client):
    client.post("/login/", {"username": "dr.nguyen", "password": PASSWORD})
    assert client.get("/referrals/").status_code == 200


def test_check_deploy_warns_when_the_admin_asks_no_second_factor(settings):
    from security.apps import admin_otp_check

    settings.ADMIN_REQUIRE_OTP = False
    assert [warning.id for warning in admin_otp_check(None)] == ["ereferral.W001"]
    settings.ADMIN_REQUIRE_OTP = True
    assert admin_otp_check(None) == []
