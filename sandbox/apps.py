from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


class SandboxConfig(AppConfig):
    name = "sandbox"
    # The label it had as hrm.sandbox: its tables, migrations and template folder keep the name.
    label = "hrm_sandbox"
    verbose_name = "Practice HRM and EMR (demo)"

    def ready(self):
        sandbox_allowed_or_refuse()
        checks.register(sandbox_enabled_check, checks.Tags.security, deploy=True)
        checks.register(sandbox_profile_check)


def sandbox_allowed_or_refuse() -> None:
    """The sandbox copies the product's patients into its EMR and shows every report it filed to
    any signed-in user: it starts only on settings built on config/settings/sandbox.py (the demo
    and test profiles), never on production's, even when a site's settings add it."""
    if getattr(settings, "HRM_SANDBOX_ALLOWED", False) is not True:
        raise ImproperlyConfigured(
            "The HRM sandbox (the 'sandbox' app) is installed, but these settings "
            f"({settings.SETTINGS_MODULE}) are not built on config.settings.sandbox: the sandbox "
            "is for the demo and the tests only and never runs with the production profile. "
            "Remove 'sandbox' from INSTALLED_APPS."
        )


def sandbox_enabled_check(app_configs, **kwargs):
    """The sandbox inbox shows every filed report to any signed-in user: fine for the demo, never
    for a deployment with real patients."""
    if getattr(settings, "HRM_SANDBOX_ENABLED", False):
        return [
            checks.Warning(
                "HRM_SANDBOX_ENABLED is on: the sandbox EMR inbox shows every report it filed to "
                "any signed-in user.",
                hint="Turn HRM_SANDBOX_ENABLED off outside the demo and tests.",
                id="hrm_sandbox.W001",
            )
        ]
    return []


def sandbox_profile_check(app_configs, **kwargs):
    from .emrs import emr_profile

    try:
        emr_profile()
    except ImproperlyConfigured as wrong:
        return [checks.Error(str(wrong), id="hrm_sandbox.E001")]
    return []
