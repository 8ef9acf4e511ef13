from django.apps import AppConfig


class HrmConfig(AppConfig):
    name = "hrm"
    verbose_name = "HRM"

    def ready(self):
        from directory.signals import clinical_contact_saved
        from hrm import checks  # noqa: F401 — registers the settings checks
        from hrm.sender_views import upi_change_warn

        clinical_contact_saved.connect(upi_change_warn, dispatch_uid="hrm.upi_change_warn")
