from django.db.models import (
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    prefetch_related_objects,
)
from django.http import Http404

from directory.models import Listing, User
from directory.search_text import search_fold
from directory.selectors import user_site_ids

from .channels import ThreadStatus, delivery_channels
from .models import (
    Attachment,
    Message,
    Referral,
    ReferralEvent,
    ReferralOwnership,
    ReviewMark,
)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """Referrals the user may see: they are the referrer, or they belong to the site of a
    stakeholder listing (the referrer's listing or any listing that ever owned the referral)."""
    sites = user_site_ids(user)
    owned_by_my_site = ReferralOwnership.objects.filter(
        referral=OuterRef("pk"), listing__site__in=sites
    )
    return Referral.objects.filter(
        Q(referrer_user=user) | Q(referrer_listing__site__in=sites) | Exists(owned_by_my_site)
    )


def referral_get_for_user_or_404(user: User, referral_id: int) -> Referral:
    """The access guard at the top of every referral view: strangers get a 404, never a 403, so
    they learn nothing about whether the referral exists."""
    referral = (
        referrals_visible_to(user)
        .select_related("target_listing__site", "referrer_user", "referrer_listing__site")
        .filter(pk=referral_id)
        .first()
    )
    if referral is None:
        raise Http404("No such referral.")
    return referral


def referral_inbox(
    user: User, *, folder: str, query: str = "", status: str = "", sort: str = "activity"
) -> QuerySet[Referral]:
    """Received: referrals a listing of mine owns or owned. Sent: those I or my listings sent.
    Review: those of either with something I have not reviewed (``review``). Each carries
    ``last_activity_at`` (its latest event) and ``needs_review``; sorted by last activity or by
    the date sent, newest first."""
    sites = user_site_ids(user)
    sent = Q(referrer_user=user) | Q(referrer_listing__site__in=sites)
    received = Exists(
        ReferralOwnership.objects.filter(referral=OuterRef("pk"), listing__site__in=sites)
    )
    open_marks = ReviewMark.objects.filter(
        user=user, reviewed_at__isnull=True, referral=OuterRef("pk")
    )
    if folder == "sent":
        referrals = Referral.objects.filter(sent)
    elif folder == "review":
        referrals = Referral.objects.filter(sent | received).filter(Exists(open_marks))
    else:
        referrals = Referral.objects.filter(received)
    if status:
        referrals = referrals.filter(status=status)
    # Case and accents do not matter: "cote" finds Côté (the folded names are stored).
    for word in search_fold(query).split():
        referrals = referrals.filter(patient_search__contains=word)
    last_event = ReferralEvent.objects.filter(referral=OuterRef("pk")).order_by("-created_at")
    referrals = referrals.annotate(
        last_activity_at=Subquery(last_event.values("created_at")[:1]),
        needs_review=Exists(open_marks),
    )
    order = ["-last_activity_at", "-created_at"] if sort == "activity" else ["-created_at"]
    return referrals.select_related("target_listing", "referrer_user", "referrer_listing").order_by(
        *order
    )


def referrals_needing_review_count(user: User) -> int:
    """How many of the user's referrals have something they have not reviewed (the Needs
    Review tab). Marks are only ever opened for stakeholders' users, but a user who left a
    site keeps none of its referrals: the count follows what they may see."""
    open_marks = ReviewMark.objects.filter(
        user=user, reviewed_at__isnull=True, referral=OuterRef("pk")
    )
    return referrals_visible_to(user).filter(Exists(open_marks)).count()


def referral_page_get(user: User, referral_id: int) -> Referral:
    """Everything the referral page shows, in a fixed number of queries whatever the thread's
    length."""
    referral = referral_get_for_user_or_404(user, referral_id)
    messages = Message.objects.select_related("author", "author_listing").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )
    prefetch_related_objects(
        [referral],
        Prefetch("messages", queryset=messages),
        Prefetch("ownerships", queryset=ReferralOwnership.objects.select_related("listing__site")),
        "events",
    )
    return referral


def referral_thread(referral: Referral) -> list:
    """The thread as its readers see it: the messages and the status changes (forwarding
    included), oldest first. Needs ``referral_page_get``'s prefetches."""
    notes = [event for event in referral.events.all() if event.is_status_note]
    return sorted([*referral.messages.all(), *notes], key=lambda entry: entry.created_at)


def referral_delivery_statuses(user: User, referral: Referral) -> list[ThreadStatus]:
    """What each delivery channel shows ``user`` on the referral's page, in the order of
    ``MESSAGE_DELIVERY_CHANNELS`` (channels that show nothing are left out)."""
    messages = list(referral.messages.all())
    statuses = (
        channel.thread_status(referral=referral, messages=messages, viewer=user)
        for channel in delivery_channels()
    )
    return [status for status in statuses if status is not None]


def referral_stakeholder_listings(referral: Referral) -> list[Listing]:
    """The referrer's listing (when signed in) and every listing that ever owned the referral."""
    if "ownerships" in getattr(referral, "_prefetched_objects_cache", {}):
        listings = [ownership.listing for ownership in referral.ownerships.all()]
    else:
        listings = list(
            Listing.objects.filter(ownerships__referral=referral)
            .select_related("site")
            .order_by("ownerships__since", "ownerships__id")
        )
    if referral.referrer_listing and referral.referrer_listing not in listings:
        listings.insert(0, referral.referrer_listing)
    return listings


def referral_acting_listing(user: User, referral: Referral) -> Listing | None:
    """The stakeholder listing the user speaks for on this referral: the current target if they
    work there, else the referrer's side, else an earlier owner at their site."""
    site_ids = set(user.sites.values_list("pk", flat=True))
    if referral.target_listing.site_id in site_ids:
        return referral.target_listing
    if referral.referrer_user_id == user.pk or (
        referral.referrer_listing and referral.referrer_listing.site_id in site_ids
    ):
        return referral.referrer_listing
    ownership = (
        referral.ownerships.filter(listing__site__in=site_ids).select_related("listing").last()
    )
    return ownership.listing if ownership else None


def referral_attachments_total(referral: Referral) -> int:
    return (
        Attachment.objects.filter(message__referral=referral).aggregate(total=Sum("size"))["total"]
        or 0
    )


def attachment_get_for_user_or_404(user: User, referral_id: int, attachment_id: int) -> Attachment:
    referral = referral_get_for_user_or_404(user, referral_id)
    attachment = Attachment.objects.filter(pk=attachment_id, message__referral=referral).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment
