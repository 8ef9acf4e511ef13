from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        from . import (
            checks,  # noqa: F401 — registers the delivery channels' check
            review,  # noqa: F401 — connects the failed-delivery receiver
        )
