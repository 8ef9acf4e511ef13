"""HRM on the clinician's account page (``directory:account``): asking support to approve the
account's UPI for a site, and the warning when a changed UPI needs approving again. The page's
section itself is the ``hrm_sending_section`` template tag (templatetags/hrm_sections.py)."""

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from hrm.selectors.senders import site_get_for_member_or_404, user_sender_statuses
from hrm.services.senders import sender_approval_request


@require_POST
def hrm_sending_request(request, site_id):
    site = site_get_for_member_or_404(request.user, site_id)
    try:
        approval = sender_approval_request(user=request.user, site=site)
    except ValidationError as error:
        flash.error(request, " ".join(error.messages))
    else:
        if approval.status == approval.Status.APPROVED:
            flash.success(request, f"UPI {approval.upi} is already approved for {site}.")
        else:
            flash.success(
                request,
                f"Your request to send HRM reports for {site} (UPI {approval.upi}) went to "
                "support. You and the site will get an email when it is approved.",
            )
    return redirect("directory:account")


def upi_change_warn(sender, *, request, user, changed, **kwargs):
    """On ``directory.signals.clinical_contact_saved``: a user who changed their UPI while they
    have approvals (or requests) learns that each site must approve the new one."""
    if "hrm_upi" in changed and any(status.approval for status in user_sender_statuses(user)):
        flash.warning(
            request,
            "Your HRM UPI changed. Support approves a UPI, not a person: request HRM "
            "sending again for each site below.",
        )
