from django.db.models import QuerySet

from .models import Listing, ListingClinicianChange, Site, User


def user_site_ids(user: User) -> QuerySet:
    """The sites a user belongs to, as a subquery."""
    return Site.objects.filter(members=user).values("pk")


def user_site_id_set(user: User) -> frozenset[int]:
    """The ids of the sites the user belongs to, read once per user object: a page asks it many
    times (receiver? acting for which listing? HRM's parts), and a request's user is a new object
    each request. Like Django's own permission cache on the user, a membership changed after the
    first call shows on a fresh user object."""
    cached = getattr(user, "_site_id_set", None)
    if cached is None:
        cached = frozenset(Site.objects.filter(members=user).values_list("pk", flat=True))
        user._site_id_set = cached
    return cached


def listings_of_user(user: User) -> QuerySet[Listing]:
    """Listings the user can act for: those of the sites they belong to."""
    return Listing.objects.filter(site__in=user_site_ids(user)).select_related("site")


def listing_get_for_member_or_404(user: User, listing_id: int) -> Listing:
    """A listing whose settings the user may change; anyone outside its site gets a 404."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(listings_of_user(user), pk=listing_id)


def listings_directory(query: str = "") -> QuerySet[Listing]:
    listings = Listing.objects.select_related("site").order_by("name")
    if query:
        listings = listings.filter(name__icontains=query) | listings.filter(
            service__icontains=query
        )
    return listings


def listing_clinician_changes_pending(listing: Listing) -> QuerySet[ListingClinicianChange]:
    """Changes of the listing's clinician that wait for support, newest first."""
    return listing.clinician_changes.filter(status=ListingClinicianChange.Status.PENDING)
