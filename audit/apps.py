from django.apps import AppConfig
from django.core import checks


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Access trail"

    def ready(self):
        # The check of the runtime role registers itself (tagged "database": it runs with
        # `check --database default` and `migrate`); this one warns when it is turned off.
        from .checks import roles_check_off_warning

        checks.register(roles_check_off_warning, checks.Tags.security, deploy=True)
