"""The Django admin behind a second factor (django-otp): with ``ADMIN_REQUIRE_OTP`` on (the
production default), staff sign in with their password and a code from their authenticator
app (TOTP) or a one-time static code, and a session without that second factor is not let in,
whatever its user's permissions.

Every admin registered here stands on ``security.admin_bases.BaseAdmin`` (a library's admins are
put on it as they register): no list takes a lookup it does not offer, and search words never go
in an address."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from .admin_bases import BaseAdmin, guarded


class SecureAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        AdminSite.__init__(self, name)

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if settings.ADMIN_REQUIRE_OTP else None

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.ADMIN_REQUIRE_OTP else None

    def has_permission(self, request):
        if settings.ADMIN_REQUIRE_OTP:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, guarded(admin_class or BaseAdmin), **options)
