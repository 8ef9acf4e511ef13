"""The Django admin behind a second factor (django-otp): with ``ADMIN_REQUIRE_OTP`` on (the
production default), staff sign in with their password and a code from their authenticator
app (TOTP) or a one-time static code, and a session without that second factor is not let in,
whatever its user's permissions.

Every admin registered here stands on ``security.admin_bases.BaseAdmin`` (a library's admins are
put on it as they register): no list takes a lookup it does not offer, and search words never go
in an address."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from .admin_bases import BaseAdmin, guarded

PRODUCT_NAME = "eReferral"

# The third-party models support works with, in support's words (the index and the side bar);
# the apps' own names are set in security/apps.py.
MODEL_NAMES = {
    ("axes", "AccessAttempt"): "Failed sign-ins and lockouts",
    ("axes", "AccessFailureLog"): "Failed sign-in history",
    ("axes", "AccessLog"): "Sign-in history",
    ("otp_static", "StaticDevice"): "Backup code sets",
    ("otp_totp", "TOTPDevice"): "Authenticator apps",
}


def staff_landing_url() -> str:
    """Where staff land after signing in: support's dashboard, or the admin's index for staff
    who may not see it (the console's landing page decides)."""
    return reverse("hrm_console:landing")


class SecureAdminSite(OTPAdminSite):
    site_header = f"{PRODUCT_NAME} support"
    site_title = f"{PRODUCT_NAME} support"
    index_title = "Support console"

    def __init__(self, name="admin"):
        AdminSite.__init__(self, name)

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(staff_landing_url())
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            extra_context = {REDIRECT_FIELD_NAME: staff_landing_url(), **(extra_context or {})}
        return super().login(request, extra_context)

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            for model in app["models"]:
                key = (app["app_label"], model["object_name"])
                model["name"] = MODEL_NAMES.get(key, model["name"])
        return app_list

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
