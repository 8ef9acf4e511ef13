"""The client's address (security/client_address.py): the entry of X-Forwarded-For that the
trusted proxies wrote, never one the client sent, and a clear "unknown" for anything that is not
an address."""

import pytest
from django.test import RequestFactory

from security.client_address import client_address, client_address_or_none


def request_with(remote="10.0.0.9", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # No proxy trusted: the header is the client's own words, never read.
        (0, "198.51.100.7", "10.0.0.9"),
        (0, None, "10.0.0.9"),
        # One proxy (nginx's $proxy_add_x_forwarded_for): its entry is the last one.
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        (1, "1.2.3.4,198.51.100.7", "198.51.100.7"),
        (1, "junk, , 9.9.9.9 ,198.51.100.7", "198.51.100.7"),
        # Two proxies: the outer one's entry, the second from the right.
        (2, "1.2.3.4, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        # Fewer entries than proxies (the outer proxy was bypassed): the leftmost, which a
        # trusted proxy wrote.
        (2, "10.0.0.2", "10.0.0.2"),
        # No header at all (a health check on the application's own port).
        (1, None, "10.0.0.9"),
        (1, "", "10.0.0.9"),
        (1, " , ", "unknown"),
        # Addresses are normalised, so one client is one throttle key.
        (1, "2001:DB8:0:0::1", "2001:db8::1"),
        (1, "::ffff:198.51.100.7", "198.51.100.7"),
        (1, "fe80::1%eth0", "fe80::1"),
    ],
)
def test_the_address_is_the_one_the_trusted_proxy_saw(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(request_with(forwarded=forwarded)) == expected


@pytest.mark.parametrize(
    "forwarded",
    ["unknown", "198.51.100.7:443", "[2001:db8::1]:80", "300.1.1.1", "x" * 5000, "\x00", "_"],
)
def test_what_is_not_an_address_is_unknown(settings, forwarded, caplog):
    settings.TRUSTED_PROXY_COUNT = 1
    request = request_with(forwarded=forwarded)
    assert client_address(request) == "unknown"
    assert client_address_or_none(request) is None
    assert "TRUSTED_PROXY_COUNT" in caplog.text
    assert len(caplog.text) < 1000  # a client-sent value is never logged whole


def test_a_request_without_remote_addr_is_unknown(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    assert client_address(request) == "unknown"


def test_a_forged_prefix_never_chooses_the_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    seen = {
        client_address(request_with(forwarded=f"{forged}, 203.0.113.66"))
        for forged in ("198.51.100.7", "127.0.0.1", "10.0.0.1, 10.0.0.2", "unknown", "")
    }
    assert seen == {"203.0.113.66"}
