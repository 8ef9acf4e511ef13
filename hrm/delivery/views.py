"""The clinician's view of HRM delivery: per-message details, re-send, and the status feed the
referral page polls so its icons change without a reload."""

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from hrm.delivery.selectors.messages import (
    message_get_for_user_or_404,
    message_hrm_attempts,
    referral_hrm_views,
    user_on_author_side,
)
from hrm.delivery.services.queue import ResendRefused, message_reports_resend
from hrm.models import HrmReport
from referrals.access import Action, referral_access_record
from referrals.selectors import referral_get_for_user_or_404
from security.middleware import session_passive


def message_hrm_details(request, referral_id, message_id):
    message = message_get_for_user_or_404(request.user, referral_id, message_id)
    hrm = referral_hrm_views(request.user, message.referral, [message])[message.pk]
    attempts = message_hrm_attempts(message)
    for report in hrm.reports:
        report.attempt_history = attempts.get(report.pk, [])
    referral_access_record(
        request, message.referral, action=Action.VIEWED, record="HRM details", object_id=message.pk
    )
    return render(request, "hrm/message_details.html", {"message": message, "hrm": hrm})


@require_POST
def message_hrm_resend(request, referral_id, message_id):
    message = message_get_for_user_or_404(request.user, referral_id, message_id)
    if not user_on_author_side(request.user, message):
        raise PermissionDenied("Only the author's side of the referral can re-send.")
    back = redirect(f"{message.referral.get_absolute_url()}#message-{message.pk}")
    report_id = request.POST.get("report", "")
    # isdigit() accepts "²", which int() refuses: only ASCII digits are an id.
    if report_id and not (report_id.isascii() and report_id.isdigit()):
        raise Http404("No such report.")
    try:
        resent = message_reports_resend(
            message=message, by=request.user, report_id=int(report_id) if report_id else None
        )
    except HrmReport.DoesNotExist:
        raise Http404("No such report.") from None
    except ResendRefused as refused:
        flash.error(request, "Not re-sent: " + " ".join(refused.reasons))
        return back
    for report in resent:
        referral_access_record(
            request,
            message.referral,
            action=Action.RESENT,
            record="HRM report",
            object_id=report.pk,
            detail=report.transaction_id,
        )
    resent = len(resent)
    if resent:
        flash.success(
            request,
            f"Re-sending {resent} HRM report{'s' if resent != 1 else ''}. The icon beside the "
            "message shows the outcome.",
        )
    else:
        flash.info(request, "Nothing to re-send: no HRM report of this message has failed.")
    return back


@session_passive
def referral_hrm_status(request, referral_id):
    """``{"messages": {id: {"icon": ..., "html": ...}}}`` for the page's polling script."""
    referral = referral_get_for_user_or_404(request.user, referral_id)
    messages = referral.messages.select_related("author_listing")
    views = referral_hrm_views(request.user, referral, messages)
    return JsonResponse(
        {
            "messages": {
                str(pk): {
                    "icon": view.icon.value,
                    "html": render_to_string(
                        "hrm/_message_status.html",
                        {"hrm": view, "referral": referral},
                        request=request,
                    ),
                }
                for pk, view in views.items()
            }
        }
    )
