"""The banner every signed-in page shows while HRM is down (clinicians and support alike)."""

from hrm.services.health import hrm_is_down


def hrm_health(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"hrm_down": hrm_is_down()}
