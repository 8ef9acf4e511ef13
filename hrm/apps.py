from django.apps import AppConfig


class HrmConfig(AppConfig):
    name = "hrm"
    verbose_name = "HRM"

    def ready(self):
        from hrm import checks  # noqa: F401 — registers the settings checks
