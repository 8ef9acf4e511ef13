from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django.core import checks
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig


class SecureAdminConfig(AdminConfig):
    """django.contrib.admin with ``SecureAdminSite`` as the default site."""

    default_site = "security.admin_site.SecureAdminSite"

    def ready(self):
        super().ready()
        checks.register(admin_otp_check, checks.Tags.security, deploy=True)
        checks.register(trusted_proxies_check, checks.Tags.security)


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


def trusted_proxies_check(app_configs, **kwargs):
    """At start-up rather than on the first proxied request: an entry that is no address or
    network would otherwise refuse every request that carries X-Forwarded-For."""
    import ipaddress

    from django.conf import settings

    problems = []
    for entry in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            problems.append(
                checks.Error(
                    f"TRUSTED_PROXIES holds {entry[:60]!r}, which is no IP address or network.",
                    hint="List the proxies' addresses or networks, comma-separated "
                    "(docs/security.md, behind the HTTPS proxy).",
                    id="ereferral.E001",
                )
            )
    return problems


# The sign-in apps under the names support knows them by, in the admin's index, side bar and
# breadcrumbs (their labels, tables and migrations stay theirs).
class SignInLockoutsConfig(AxesConfig):
    verbose_name = "Sign-in lockouts"


class BackupCodesConfig(OtpStaticConfig):
    verbose_name = "Second factor: backup codes"


class AuthenticatorAppsConfig(OtpTotpConfig):
    verbose_name = "Second factor: authenticator apps"
