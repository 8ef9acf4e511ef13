from django.conf import settings
from django.urls import reverse


def sandbox(request):
    """Adds the sandbox EMR inbox to the navigation when the sandbox is on (the demo). The
    product's pages name no sandbox page: they show whatever ``extra_nav_links`` holds."""
    if not settings.HRM_SANDBOX_ENABLED:
        return {}
    return {"extra_nav_links": [("Sandbox EMR", reverse("hrm_sandbox:index"))]}
