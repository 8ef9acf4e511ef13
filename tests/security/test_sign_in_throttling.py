"""Sign-in throttling (django-axes) with real requests: after 5 wrong passwords for one username
from one address, even the right password is refused for a while, on the clinicians' sign-in
page and at /admin/login/ alike."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from axes.models import AccessAttempt
from django.test import Client

from ..factories import PASSWORD

WRONG = "wrong-password-123"


def sign_in(client, path, username, password):
    return client.post(path, {"username": username, "password": password, "next": ""})


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_five_wrong_passwords_lock_out_even_the_right_one(world, superuser, path):
    user = superuser if path.startswith("/admin") else world.referrer
    client = Client()
    for _ in range(4):
        response = sign_in(client, path, user.username, WRONG)
        assert response.status_code == 200  # the form again, with its error
    response = sign_in(client, path, user.username, WRONG)
    assert response.status_code == 429
    response = sign_in(client, path, user.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "15 minutes" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/referrals/").status_code == 302
    # Nothing of the password is kept with the attempt.
    attempt = AccessAttempt.objects.get(username=user.username)
    assert WRONG not in attempt.post_data
    assert PASSWORD not in attempt.post_data
    assert attempt.failures_since_start >= 5


def test_the_lockout_is_per_username_and_address(world):
    for _ in range(5):
        sign_in(Client(), "/login/", world.referrer.username, WRONG)
    # A colleague at the same address signs in: an attacker cannot lock a whole clinic out.
    assert sign_in(Client(), "/login/", world.specialist.username, PASSWORD).status_code == 302
    other_address = Client(REMOTE_ADDR="10.9.8.7")
    assert sign_in(other_address, "/login/", world.referrer.username, PASSWORD).status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(world):
    client = Client()
    for _ in range(4):
        sign_in(client, "/login/", world.referrer.username, WRONG)
    assert sign_in(client, "/login/", world.referrer.username, PASSWORD).status_code == 302
    for _ in range(4):
        assert sign_in(Client(), "/login/", world.referrer.username, WRONG).status_code == 200
    assert sign_in(Client(), "/login/", world.referrer.username, PASSWORD).status_code == 302


def test_the_cool_off_ends(world, settings):
    import datetime

    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=0)
    for _ in range(5):
        sign_in(Client(), "/login/", world.referrer.username, WRONG)
    assert sign_in(Client(), "/login/", world.referrer.username, PASSWORD).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_lockout_over_http_against_a_running_server(live_server):
    """The same through a real HTTP server and a cookie-keeping client, as a script would."""
    from ..factories import make_user

    make_user(username="dr.http")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def attempt(password):
        page = opener.open(f"{live_server.url}/login/", timeout=30).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "dr.http", "password": password}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 — the test server's own http URL
            f"{live_server.url}/login/", data=body, headers={"Referer": live_server.url}
        )
        try:
            response = opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        return response.status, response.geturl()

    statuses = [attempt(WRONG)[0] for _ in range(30)]
    assert statuses[:4] == [200] * 4
    assert set(statuses[4:]) == {429}
    status, page = attempt(PASSWORD)
    assert status == 429 and "Too many failed sign-ins" in page
