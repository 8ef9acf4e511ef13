"""The page django-axes shows a locked-out sign-in (``AXES_LOCKOUT_CALLABLE``)."""

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username": get_client_username(request, credentials) or "",
        "minutes": minutes,
    }
    return render(request, "registration/locked_out.html", context, status=429)
