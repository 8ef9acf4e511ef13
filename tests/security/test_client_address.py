"""The client's address (security/client_address.py): the entry of X-Forwarded-For that the
trusted proxies wrote, never one the client sent, read only when the connection comes from a
trusted proxy (``TRUSTED_PROXIES``), and a clear "unknown" for anything that is not an
address."""

import pytest
from django.test import RequestFactory

from security.client_address import client_address, client_address_or_none

PROXY = "10.0.0.9"  # the proxy in front, in these tests


@pytest.fixture(autouse=True)
def _the_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]


def request_with(remote=PROXY, forwarded=None):
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


@pytest.mark.parametrize("forged", ["198.51.100.7", "127.0.0.1", "1.2.3.4, 10.0.0.9"])
def test_an_attacker_connecting_directly_gets_their_own_address(settings, forged):
    """gunicorn's port reached without the proxy (a firewall slip, a second interface): the
    header is the attacker's own words, whatever the proxy count says."""
    settings.TRUSTED_PROXY_COUNT = 1
    request = request_with(remote="203.0.113.66", forwarded=forged)
    assert client_address(request) == "203.0.113.66"


@pytest.mark.parametrize(
    ("trusted", "remote", "expected"),
    [
        # The default: the proxy on the same host (systemd's units, gunicorn on loopback).
        (None, "127.0.0.1", "198.51.100.7"),
        (None, "127.0.0.2", "198.51.100.7"),
        (None, "::1", "198.51.100.7"),
        (None, "::ffff:127.0.0.1", "198.51.100.7"),
        (None, "10.0.0.9", "10.0.0.9"),
        # Networks and single addresses, IPv4 and IPv6.
        (["172.16.0.0/12", "2001:db8::/32"], "172.18.0.5", "198.51.100.7"),
        (["172.16.0.0/12", "2001:db8::/32"], "2001:db8::7", "198.51.100.7"),
        (["172.16.0.0/12", "2001:db8::/32"], "127.0.0.1", "127.0.0.1"),
        (["192.0.2.10"], "192.0.2.10", "198.51.100.7"),
        (["192.0.2.10"], "192.0.2.11", "192.0.2.11"),
        ([], "127.0.0.1", "127.0.0.1"),
    ],
)
def test_the_header_is_read_only_from_a_trusted_proxy(settings, trusted, remote, expected):
    settings.TRUSTED_PROXY_COUNT = 1
    if trusted is None:
        from config.settings import base

        trusted = base.TRUSTED_PROXIES  # the shipped default
    settings.TRUSTED_PROXIES = trusted
    assert client_address(request_with(remote=remote, forwarded="198.51.100.7")) == expected


def test_a_trusted_proxy_that_is_not_an_address_stops_the_request(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["nginx"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        client_address(request_with(forwarded="198.51.100.7"))


def test_a_trusted_proxy_that_is_not_an_address_fails_the_start_up_check(settings):
    from security.apps import trusted_proxies_check

    assert trusted_proxies_check(None) == []
    settings.TRUSTED_PROXIES = ["127.0.0.1", "nginx", "10.0.0.0/33"]
    assert [error.id for error in trusted_proxies_check(None)] == ["ereferral.E001"] * 2
