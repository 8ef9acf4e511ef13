from django.contrib.admin.apps import AdminConfig
from django.core import checks


class SecureAdminConfig(AdminConfig):
    """django.contrib.admin with ``SecureAdminSite`` as the default site."""

    default_site = "security.admin_site.SecureAdminSite"

    def ready(self):
        super().ready()
        checks.register(admin_otp_check, checks.Tags.security, deploy=True)


def admin_otp_check(app_configs, **kwargs):
    from django.conf import settings

    if settings.ADMIN_REQUIRE_OTP:
        return []
    return [
        checks.Warning(
            "The admin does not ask staff for a second factor.",
            hint="Set ADMIN_REQUIRE_OTP=true (the production profile's default).",
            id="ereferral.W001",
        )
    ]
