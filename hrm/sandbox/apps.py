from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class HrmSandboxConfig(AppConfig):
    name = "hrm.sandbox"
    label = "hrm_sandbox"
    verbose_name = "HRM sandbox (EMR stand-in)"

    def ready(self):
        checks.register(sandbox_enabled_check, checks.Tags.security, deploy=True)
        checks.register(sandbox_profile_check)


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
    from django.core.exceptions import ImproperlyConfigured

    from .profiles import emr_profile

    try:
        emr_profile()
    except ImproperlyConfigured as wrong:
        return [checks.Error(str(wrong), id="hrm_sandbox.E001")]
    return []
