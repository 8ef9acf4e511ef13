"""Response headers and session handling for pages with patient information."""

from django.contrib.sessions.middleware import SessionMiddleware
from django.utils.cache import add_never_cache_headers


def session_passive(view):
    """Mark a view whose requests must not count as activity (a page's background status poll):
    its responses never renew the session, so the idle sign-out still happens."""
    view.session_passive = True
    return view


class IdleSessionMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, except that a passive view's response does not save the
    session. With SESSION_SAVE_EVERY_REQUEST every other request renews it."""

    def process_view(self, request, view, args, kwargs):
        if getattr(view, "session_passive", False):
            request.session_passive = True

    def process_response(self, request, response):
        if getattr(request, "session_passive", False):
            return response
        return super().process_response(request, response)


class NoStoreMiddleware:
    """Every page this application renders may show patient information (the public form, the
    inbox, a referral, HRM details, the admin): none may be kept by the browser or a proxy, so
    Back after sign-out on a shared workstation shows nothing. Static files are served before
    this (WhiteNoise) and stay cacheable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response or "no-store" not in response["Cache-Control"]:
            add_never_cache_headers(response)
        return response
