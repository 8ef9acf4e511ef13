"""Every client told apart behind the proxy: over a running server, with the X-Forwarded-For
header the HTTPS proxy writes (``TRUSTED_PROXY_COUNT = 1``), the sign-in lockout, the public
form's throttle, the password-reset limit and the access trail each see the client's own address,
whatever the client itself puts in the header."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from axes.models import AccessAttempt

from audit.models import AccessEntry
from referrals.models import Referral

from ..factories import PASSWORD, PATIENT

WRONG = "wrong-password-123"
OWNER_ADDRESS = "198.51.100.7"
ATTACKER_ADDRESS = "203.0.113.66"

pytestmark = pytest.mark.django_db(transaction=True)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ThroughTheProxy:
    """A browser at ``address`` whose requests reach the server through one proxy, which appends
    the address it saw to X-Forwarded-For (nginx's ``$proxy_add_x_forwarded_for``). ``forged``
    is what the client itself sends in that header."""

    def __init__(self, base_url: str, address: str):
        self.base_url = base_url
        self.address = address
        self.forged = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects
        )

    def _open(self, path, data=None):
        forwarded = f"{self.forged}, {self.address}" if self.forged else self.address
        request = urllib.request.Request(  # noqa: S310 — the test server's own http URL
            self.base_url + path,
            data=urllib.parse.urlencode(data).encode() if data is not None else None,
            headers={"X-Forwarded-For": forwarded, "Referer": self.base_url},
        )
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as answer:  # 3xx (not followed) and 4xx
            return answer.code, answer.read().decode()
        return response.status, response.read().decode()

    def get(self, path):
        return self._open(path)

    def submit(self, path, fields):
        """Post ``fields`` with the form's CSRF token, as a browser would."""
        status, page = self.get(path)
        assert status == 200, (path, status)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        return self._open(path, {"csrfmiddlewaretoken": token, **fields})

    def sign_in(self, username, password):
        return self.submit("/login/", {"username": username, "password": password})[0]


@pytest.fixture
def proxy(settings, live_server):
    settings.TRUSTED_PROXY_COUNT = 1
    return lambda address: ThroughTheProxy(live_server.url, address)


def test_an_attackers_five_failures_do_not_lock_the_owner_out(world, proxy):
    attacker = proxy(ATTACKER_ADDRESS)
    statuses = [attacker.sign_in("dr.nguyen", WRONG) for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert attacker.sign_in("dr.nguyen", PASSWORD) == 429
    # The owner, from elsewhere, signs in.
    assert proxy(OWNER_ADDRESS).sign_in("dr.nguyen", PASSWORD) == 302
    [attempt] = AccessAttempt.objects.filter(username="dr.nguyen")
    assert attempt.ip_address == ATTACKER_ADDRESS


def test_a_forged_x_forwarded_for_prefix_does_not_change_the_address(world, proxy):
    attacker = proxy(ATTACKER_ADDRESS)
    statuses = []
    for forged in (OWNER_ADDRESS, "10.0.0.1", "127.0.0.1, 10.0.0.2", "unknown", OWNER_ADDRESS):
        attacker.forged = forged
        statuses.append(attacker.sign_in("dr.nguyen", WRONG))
    # Counted as one address, the attacker's: locked out on the fifth.
    assert statuses == [200, 200, 200, 200, 429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER_ADDRESS}
    # Forging the owner's address locked the owner out of nothing.
    assert proxy(OWNER_ADDRESS).sign_in("dr.nguyen", PASSWORD) == 302


def test_the_trail_records_the_clients_own_address(world, referral, proxy):
    owner = proxy(OWNER_ADDRESS)
    owner.forged = "10.6.6.6"
    assert owner.sign_in("dr.nguyen", PASSWORD) == 302
    assert owner.get(f"/referrals/{referral.pk}/")[0] == 200
    [entry] = AccessEntry.objects.filter(record="referral")
    assert entry.actor_username == "dr.nguyen"
    assert entry.ip_address == OWNER_ADDRESS


def _public_referral():
    return {
        **PATIENT,
        "patient_province": "ON",
        "referrer_name": "Dr. Walk-in",
        "referrer_email": "walkin@example.org",
    }


def test_the_public_form_is_throttled_per_client(world, proxy):
    path = f"/referrals/listings/{world.intake_listing.pk}/refer/"
    busy = proxy(ATTACKER_ADDRESS)
    statuses = []
    for n in range(6):
        busy.forged = f"192.0.2.{n}"  # a new forged prefix each time changes nothing
        statuses.append(busy.submit(path, _public_referral())[0])
    assert statuses == [200] * 5 + [429]
    # Every other referrer still gets through.
    assert proxy(OWNER_ADDRESS).submit(path, _public_referral())[0] == 200
    assert Referral.objects.filter(referrer_signed_in=False).count() == 6


def test_password_reset_requests_are_limited_per_client(world, proxy, mailoutbox):
    busy = proxy(ATTACKER_ADDRESS)
    statuses = []
    for n in range(6):
        busy.forged = f"192.0.2.{n}"
        statuses.append(busy.submit("/password/reset/", {"email": world.referrer.email})[0])
    assert statuses == [302] * 5 + [429]
    assert proxy(OWNER_ADDRESS).submit("/password/reset/", {"email": world.referrer.email})[0] == (
        302
    )
    assert len(mailoutbox) == 6
