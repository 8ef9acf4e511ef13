"""The client's address, as the trusted proxy saw it: the one function the sign-in lockout
(django-axes, ``AXES_CLIENT_IP_CALLABLE``), the throttles, the password-reset limit and the
access trail all use.

Each proxy in front of the application appends the address it received the connection from to
``X-Forwarded-For`` (nginx: ``$proxy_add_x_forwarded_for``). With ``TRUSTED_PROXY_COUNT`` = N
proxies, the last N entries were written by them; the Nth from the right is the address the
outermost one saw, the client's. Everything left of it was sent by the client and is never
read, so a forged prefix cannot choose the address. With N = 0, no proxy: ``REMOTE_ADDR``.

The header is read only when the connection itself comes from a trusted proxy
(``TRUSTED_PROXIES``, addresses or networks; loopback by default): a client that reaches gunicorn
without going through the proxy (a firewall slip, a port published by mistake) wrote the whole
header itself, so it gets its connection's address.

django-ipware was the alternative: it ranks public addresses above private ones and reads
several headers, where this rule has to be exactly "the Nth from the right" (a clinic's private
network address is as much an address as a public one)."""

import functools
import ipaddress
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"


def client_address(request) -> str:
    """The client's address as a normalised IP string, or ``"unknown"`` when the entry the
    trusted proxies vouch for is not an address (a proxy count set higher than the proxies
    there are)."""
    own = _address(request.META.get("REMOTE_ADDR", ""), source="REMOTE_ADDR")
    trusted = settings.TRUSTED_PROXY_COUNT
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry.strip() for entry in header.split(",")] if header.strip() else []
    if trusted <= 0 or not entries or not _from_trusted_proxy(own):
        # No proxy in front, or a request that did not come through it (a health check on the
        # application's own port, or a client reaching that port directly with a header of its
        # own making): the connection's own address.
        return own
    # Fewer entries than proxies: the leftmost one is still a trusted proxy's (the outer ones
    # were bypassed), never the client's own words.
    return _address(entries[-min(trusted, len(entries))], source="X-Forwarded-For")


def _from_trusted_proxy(address: str) -> bool:
    if address == UNKNOWN:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


@functools.lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple:
    # Keyed on the setting's value, so a changed setting (the tests') is read afresh.
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES holds something that is not an address or network: {error}"
        ) from error


def _address(value: str, *, source: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        logger.warning(
            "The client's address from %s is not an IP address (%r): is TRUSTED_PROXY_COUNT "
            "the number of proxies that append to X-Forwarded-For?",
            source,
            value[:60],
        )
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        # One client, one key: an IPv4 client of a dual-stack socket is its IPv4 address, and a
        # link-local zone (fe80::1%eth0) is no part of the address PostgreSQL stores.
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Address(int(address)))
    return str(address)


def client_address_or_none(request) -> str | None:
    """The address for a field that holds IP addresses only (the access trail's)."""
    address = client_address(request)
    return None if address == UNKNOWN else address
