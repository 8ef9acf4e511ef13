from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from hrm.receivers.selectors import listing_is_live_on_hrm
from hrm.senders.selectors import site_get_for_member_or_404, user_sender_statuses
from hrm.senders.services import sender_approval_request

from .forms import ClinicalContactForm, ListingSettingsForm
from .selectors import listing_get_for_member_or_404, listings_directory, listings_of_user


def account(request):
    # Read before the form is bound: an invalid POST would otherwise show unsaved values as if
    # they counted.
    hrm_statuses = user_sender_statuses(request.user)
    form = ClinicalContactForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        flash.success(
            request,
            "Your Clinical Contact Information was saved"
            + (
                f", with Professional ID {user.professional_id_display}."
                if user.professional_id
                else "."
            ),
        )
        if "hrm_upi" in form.changed_data and any(s.approval for s in hrm_statuses):
            flash.warning(
                request,
                "Your HRM UPI changed. Support approves a UPI, not a person: request HRM "
                "sending again for each site below.",
            )
        return redirect("directory:account")
    return render(
        request,
        "directory/account.html",
        {"form": form, "listings": listings_of_user(request.user), "hrm_statuses": hrm_statuses},
    )


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


def listing_settings(request, listing_id):
    listing = listing_get_for_member_or_404(request.user, listing_id)
    # Read before the form is bound, which writes the typed values onto ``listing``.
    hrm_status = listing_is_live_on_hrm(listing)
    form = ListingSettingsForm(request.POST or None, instance=listing)
    if request.method == "POST" and form.is_valid():
        listing = form.save()
        saved_id = listing.clinician_professional_id_display
        flash.success(
            request,
            f"Settings for {listing} were saved"
            + (f", with Professional ID {saved_id}." if saved_id else "."),
        )
        return redirect("directory:listing_settings", listing.pk)
    return render(
        request,
        "directory/listing_settings.html",
        {"form": form, "listing": listing, "hrm_status": hrm_status},
    )


def directory(request):
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "directory/directory.html",
        {"listings": listings_directory(query), "query": query},
    )
