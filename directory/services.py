"""Writes on the directory: a listing's settings, and changes of a listing's clinician.

A listing's clinician (names, Professional ID) decides whose EMR receives the listing's HRM
reports, so it changes at once only when support changes it, or when the clinician changes it
from their own account, with a Professional ID support verified. Any other member of the site
asks; support approves or rejects in the admin, and until then the reports keep going to the
clinician on the listing. Every change is recorded (``ListingClinicianChange``) and the clinician
it moves away from is emailed (no patient data) after the change commits.
"""

from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .emails import email_send
from .models import Listing, ListingClinicianChange, User

Status = ListingClinicianChange.Status

CLINICIAN_FIELDS = ("clinician_first_name", "clinician_surname", "clinician_professional_id")
_AFTER = {field: field.replace("clinician_", "after_") for field in CLINICIAN_FIELDS}
_BEFORE = {field: field.replace("clinician_", "before_") for field in CLINICIAN_FIELDS}


def listing_clinician_may_change(actor: User, listing: Listing, professional_id: str) -> bool:
    """Whether ``actor`` may make the listing's clinician the one with ``professional_id``
    without support's approval: support may; a clinician may from their own account, with their
    Professional ID verified by support, when the listing is theirs (or has none) and stays
    theirs (or is cleared)."""
    if actor.is_staff and actor.has_perm("directory.change_listing"):
        return True
    if not actor.professional_id_verified:
        return False
    own = actor.professional_id
    return listing.clinician_professional_id in ("", own) and professional_id in ("", own)


def listing_settings_save(
    *, listing: Listing, actor: User, values: dict
) -> ListingClinicianChange | None:
    """Save a listing's settings as ``actor`` typed them. Settings other than the clinician are
    saved at once; a changed clinician is applied and recorded, or recorded as a request for
    support when ``actor`` may not change it (``listing_clinician_may_change``). Returns the
    recorded change, if the clinician changed."""
    with transaction.atomic():
        locked = Listing.objects.select_for_update().get(pk=listing.pk)
        for field, value in values.items():
            if field not in CLINICIAN_FIELDS:
                setattr(locked, field, value)
        asked = {field: values.get(field, getattr(locked, field)) for field in CLINICIAN_FIELDS}
        change = None
        if any(asked[field] != getattr(locked, field) for field in CLINICIAN_FIELDS):
            direct = listing_clinician_may_change(actor, locked, asked["clinician_professional_id"])
            change = _record(locked, actor, asked, Status.APPLIED if direct else Status.PENDING)
            if direct:
                _apply(locked, asked)
        locked.save()
    if change is not None:
        transaction.on_commit(partial(_notify, change.pk), robust=True)
    for field in (*values, *CLINICIAN_FIELDS):
        setattr(listing, field, getattr(locked, field))
    return change


def listing_clinician_set_by_support(
    *, listing: Listing, actor: User, before: dict
) -> ListingClinicianChange | None:
    """Record a change support made in the admin (``listing`` as saved, ``before`` its clinician
    fields as they were), and tell the previous clinician."""
    after = {field: getattr(listing, field) for field in CLINICIAN_FIELDS}
    if after == before:
        return None
    change = ListingClinicianChange(
        listing=listing,
        status=Status.APPLIED,
        requested_by=actor,
        requested_by_name=_who(actor),
        decided_by=actor,
        decided_by_name=_who(actor),
        decided_at=timezone.now(),
        **{_BEFORE[f]: before[f] for f in CLINICIAN_FIELDS},
        **{_AFTER[f]: after[f] for f in CLINICIAN_FIELDS},
    )
    change.save()
    transaction.on_commit(partial(_notify, change.pk), robust=True)
    return change


def listing_clinician_change_decide(
    *, change: ListingClinicianChange, actor: User, approve: bool
) -> ListingClinicianChange:
    """Support approves (the listing's clinician becomes the one asked for) or rejects a pending
    change. The listing must still have the clinician the request was made from: otherwise the
    request is out of date and is rejected, never applied over a newer change."""
    with transaction.atomic():
        change = ListingClinicianChange.objects.select_for_update().get(pk=change.pk)
        if change.status != Status.PENDING:
            raise ValidationError(
                f"This change is {change.get_status_display().lower()}: only a change waiting "
                "for support can be decided."
            )
        listing = Listing.objects.select_for_update().get(pk=change.listing_id)
        current = {field: getattr(listing, field) for field in CLINICIAN_FIELDS}
        before = {field: getattr(change, _BEFORE[field]) for field in CLINICIAN_FIELDS}
        if approve and current != before:
            raise ValidationError(
                f"{listing}'s clinician changed since this was asked (it is now "
                f"{ListingClinicianChange._text(*current.values())}): reject it, and ask the "
                "site to ask again."
            )
        change.status = Status.APPROVED if approve else Status.REJECTED
        change.decided_by = actor
        change.decided_by_name = _who(actor)
        change.decided_at = timezone.now()
        change.save()
        if approve:
            _apply(listing, {field: getattr(change, _AFTER[field]) for field in CLINICIAN_FIELDS})
            listing.save()
            transaction.on_commit(partial(_notify, change.pk), robust=True)
    return change


def _apply(listing: Listing, values: dict) -> None:
    for field in CLINICIAN_FIELDS:
        setattr(listing, field, values[field])


def _who(user: User) -> str:
    return f"{user} ({user.username})"


def _record(listing: Listing, actor: User, asked: dict, status: str) -> ListingClinicianChange:
    decided = status == Status.APPLIED
    return ListingClinicianChange.objects.create(
        listing=listing,
        status=status,
        requested_by=actor,
        requested_by_name=_who(actor),
        decided_by=actor if decided else None,
        decided_by_name=_who(actor) if decided else "",
        decided_at=timezone.now() if decided else None,
        **{_BEFORE[f]: getattr(listing, f) for f in CLINICIAN_FIELDS},
        **{_AFTER[f]: asked[f] for f in CLINICIAN_FIELDS},
    )


def _previous_clinician_addresses(change: ListingClinicianChange) -> list[str]:
    """The clinician the change moves away from: their account's address, else the listing's."""
    addresses = []
    if change.before_professional_id:
        addresses = list(
            User.objects.filter(professional_id=change.before_professional_id)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    if not addresses and (change.before_professional_id or change.before_surname):
        addresses = [change.listing.notification_address]
    return [address for address in addresses if address]


def _support_addresses() -> list[str]:
    """Staff who can decide clinician changes (superusers included)."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    decide = Permission.objects.filter(
        codename="change_listingclinicianchange", content_type__app_label="directory"
    )
    return list(
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=decide)
            | Q(groups__permissions__in=decide)
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


def _send(subject: str, body: str, addresses: list[str], change: ListingClinicianChange) -> None:
    # Only ever called from ``_notify``, which itself runs once the change has committed.
    email_send(
        subject=subject,
        body=body,
        addresses=addresses,
        about=f"clinician change {change.pk} of a listing",
    )


def _notify(change_id: int) -> None:
    """Email the previous clinician what changed, or what was asked, and support what waits for
    them (no patient data). A mail failure is logged, never undoes the change."""
    change = ListingClinicianChange.objects.select_related("listing__site").get(pk=change_id)
    listing = change.listing
    link = settings.SITE_URL + reverse("directory:listing_settings", args=[listing.pk])
    pending = change.status == Status.PENDING
    subject = (
        f"Change of clinician asked for {listing}"
        if pending
        else f"The clinician of {listing} changed"
    )
    what = (
        "asked support to change the listing's clinician"
        if pending
        else "changed the listing's clinician"
    )
    after = (
        "Until support approves it, HRM reports for this listing keep going to the clinician above."
        if pending
        else "HRM reports for this listing now go to the new clinician's EMR."
    )
    summary = (
        f"{change.requested_by_name} {what} at {listing.site}, listing {listing}:\n\n"
        f"  from: {change.before_text}\n  to:   {change.after_text}\n\n{after}\n\n"
    )
    _send(
        subject,
        f"{summary}If this is not right, tell support at once. The listing: {link}\n",
        _previous_clinician_addresses(change),
        change,
    )
    if pending:
        decide = settings.SITE_URL + reverse("admin:directory_listingclinicianchange_changelist")
        _send(
            subject,
            f"{summary}Check with the clinician, then approve or reject: {decide}?status__exact"
            "=pending\n",
            _support_addresses(),
            change,
        )
