"""Sign-in pages beyond Django's own: a password reset that cannot be used to flood someone's
inbox (throttled per address like the public form), whose emailed link is built from SITE_URL,
never from the request's Host header."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render

from .client_address import client_address
from .throttle import throttle_exceeded


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def post(self, request, *args, **kwargs):
        if throttle_exceeded(
            "password-reset",
            client_address(request),
            limit=settings.PASSWORD_RESET_LIMIT_PER_ADDRESS,
            window_seconds=60 * 60,
        ):
            return render(request, "registration/password_reset_throttled.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # Django builds the link from the request's Host: a forged Host (one of several allowed
        # names, or a proxy passing it on) would send the user a link to another site, with a
        # working token in it. Every emailed link starts with SITE_URL.
        self.extra_email_context = {"site_url": settings.SITE_URL}
        self.domain_override = urlsplit(settings.SITE_URL).netloc
        return super().form_valid(form)
