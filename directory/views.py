from django.contrib import messages as flash
from django.shortcuts import redirect, render

from .forms import ClinicalContactForm, ListingSettingsForm
from .selectors import listing_get_for_member_or_404, listings_directory, listings_of_user


def account(request):
    form = ClinicalContactForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        flash.success(request, "Your Clinical Contact Information was saved.")
        return redirect("directory:account")
    return render(
        request,
        "directory/account.html",
        {"form": form, "listings": listings_of_user(request.user)},
    )


def listing_settings(request, listing_id):
    listing = listing_get_for_member_or_404(request.user, listing_id)
    form = ListingSettingsForm(request.POST or None, instance=listing)
    if request.method == "POST" and form.is_valid():
        form.save()
        flash.success(request, f"Settings for {listing} were saved.")
        return redirect("directory:listing_settings", listing.pk)
    return render(request, "directory/listing_settings.html", {"form": form, "listing": listing})


def directory(request):
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "directory/directory.html",
        {"listings": listings_directory(query), "query": query},
    )
