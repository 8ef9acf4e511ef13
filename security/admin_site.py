"""The Django admin behind a second factor (django-otp): with ``ADMIN_REQUIRE_OTP`` on (the
production default), staff sign in with their password and a code from their authenticator
app (TOTP) or a one-time static code, and a session without that second factor is not let in,
whatever its user's permissions."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


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
