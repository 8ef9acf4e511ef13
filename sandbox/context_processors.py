from django.conf import settings


def sandbox(request):
    """Lets the navigation link to the sandbox EMR inbox when the sandbox is on (the demo)."""
    return {"hrm_sandbox_enabled": settings.HRM_SANDBOX_ENABLED}
