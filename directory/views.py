import copy

from django.contrib import messages as flash
from django.shortcuts import redirect, render

from security.search_text import search_text_refused

from .forms import ClinicalContactForm, ListingSettingsForm
from .models import User
from .selectors import (
    listing_clinician_changes_pending,
    listing_get_for_member_or_404,
    listings_directory,
    listings_of_user,
)
from .services import listing_settings_save
from .signals import clinical_contact_saved


def account(request):
    """The user's Clinical Contact Information. Other apps add their sections to the page through
    template tags (HRM's: ``hrm_sending_section``) and hear of saves through
    ``clinical_contact_saved``."""
    # The form edits its own copy of the account: until it saves, the rest of the page (HRM's
    # section among it) shows the account as saved, not the values of an invalid POST.
    form = ClinicalContactForm(request.POST or None, instance=User.objects.get(pk=request.user.pk))
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
        clinical_contact_saved.send(
            sender=User, request=request, user=user, changed=tuple(form.changed_data)
        )
        return redirect("directory:account")
    return render(
        request,
        "directory/account.html",
        {"form": form, "listings": listings_of_user(request.user)},
    )


def listing_settings(request, listing_id):
    listing = listing_get_for_member_or_404(request.user, listing_id)
    # The form edits a copy: until it saves, the page (HRM's live status among it) shows the
    # listing as saved, not the values of an invalid POST.
    form = ListingSettingsForm(request.POST or None, instance=copy.copy(listing))
    if request.method == "POST" and form.is_valid():
        change = listing_settings_save(
            listing=listing,
            actor=request.user,
            values={field: form.cleaned_data[field] for field in form.Meta.fields},
        )
        if change is not None and change.status == change.Status.PENDING:
            flash.warning(
                request,
                f"Settings for {listing} were saved. The change of clinician to "
                f"{change.after_text} went to support for approval: only support or the "
                "clinician themself can change it. Until it is approved, HRM reports keep "
                f"going to {change.before_text}.",
            )
        else:
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
        {
            "form": form,
            "listing": listing,
            "pending_changes": listing_clinician_changes_pending(listing),
        },
    )


def directory(request):
    query = request.GET.get("q", "").strip()
    if refused := search_text_refused(query):
        flash.error(request, refused)
        query = ""
    return render(
        request,
        "directory/directory.html",
        {"listings": listings_directory(query), "query": query},
    )
