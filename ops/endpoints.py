"""``/health/live``, ``/health/ready`` and ``/metrics``, answered by a middleware placed first,
before Django's host validation, the HTTPS redirect, sessions and sign-in: a process supervisor
calls them on loopback (``http://127.0.0.1:8000/health/ready``, a Host the production
ALLOWED_HOSTS does not list, over plain HTTP) and Prometheus scrapes the web process directly.
None of them builds a URL from the Host header, which is what ALLOWED_HOSTS protects; each
response is plain text, never cached, and names no patient.

- live: 200 while the process serves requests, nothing checked.
- ready: 200 or 503, one line per check; the reasons (hosts, errors) only with
  ``Authorization: Bearer <HEALTH_TOKEN>``. Without the token the answer may be a few seconds
  old (``OPS_READY_ANONYMOUS_CACHE_SECONDS``), so anyone's calls stay cheap; with it, the
  checks run now.
- metrics: Prometheus' text format, for ``Authorization: Bearer <METRICS_TOKEN>`` or a client
  address in ``METRICS_ALLOWED_ADDRESSES``; 403 otherwise."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ops.metrics import metrics_registry
from ops.readiness import readiness_checks_recent
from security.client_address import client_address


def _bearer_matches(request, token: str) -> bool:
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def _plain(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"):
    response = HttpResponse(text, status=status, content_type=content_type)
    add_never_cache_headers(response)
    return response


def health_live(request):
    return _plain("live\n")


def health_ready(request):
    details = _bearer_matches(request, settings.HEALTH_TOKEN)
    checks = readiness_checks_recent(
        max_age_seconds=0 if details else settings.OPS_READY_ANONYMOUS_CACHE_SECONDS
    )
    text = "".join(check.line(details=details) + "\n" for check in checks)
    return _plain(text, status=200 if all(c.ok for c in checks) else 503)


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_ADDRESSES:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics(request):
    if not (
        _bearer_matches(request, settings.METRICS_TOKEN)
        or _address_allowed(client_address(request))
    ):
        return _plain("forbidden\n", status=403)
    return _plain(generate_latest(metrics_registry()).decode(), content_type=CONTENT_TYPE_LATEST)


ENDPOINTS = {
    "/health/live": health_live,
    "/health/ready": health_ready,
    "/metrics": metrics,
}


class OpsEndpointsMiddleware:
    """First in MIDDLEWARE: answers the three operator endpoints (GET or HEAD, with or without a
    trailing slash) and hands every other request on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = ENDPOINTS.get(request.path_info.rstrip("/"))
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _plain("method not allowed\n", status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
