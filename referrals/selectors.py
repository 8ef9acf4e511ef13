from django.core.exceptions import PermissionDenied
from django.db.models import (
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.http import Http404

from directory.models import Listing, User
from directory.search_text import search_fold
from directory.selectors import user_site_id_set, user_site_ids

from .channels import ThreadStatus, delivery_channels
from .models import (
    Attachment,
    CannedResponse,
    Message,
    Referral,
    ReferralCopy,
    ReferralEvent,
    ReferralOwnership,
    ReviewMark,
)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """Referrals the user may see: they are the referrer, or they belong to the site of a
    stakeholder listing (the referrer's listing, any listing that ever owned the referral, or a
    listing it is copied to)."""
    sites = user_site_ids(user)
    owned_by_my_site = ReferralOwnership.objects.filter(
        referral=OuterRef("pk"), listing__site__in=sites
    )
    copied_to_my_site = ReferralCopy.objects.filter(
        referral=OuterRef("pk"), listing__site__in=sites
    )
    return Referral.objects.filter(
        Q(referrer_user=user)
        | Q(referrer_listing__site__in=sites)
        | Exists(owned_by_my_site)
        | Exists(copied_to_my_site)
    )


def messages_visible_to(user: User) -> Q:
    """Which messages of a visible referral the user sees: every shared message, and the private
    notes of their own sites only."""
    return Q(private_to_site__isnull=True) | Q(private_to_site__in=user_site_ids(user))


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
    Review: every referral I may see (copies to my listings too) with something I have not
    reviewed (``referrals_needing_review``, the tab's count). Each carries
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
        referrals = referrals_needing_review(user)
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


def referrals_needing_review(user: User) -> QuerySet[Referral]:
    """The user's referrals with something they have not reviewed: the Review folder, and the
    Needs Review tab's count. Marks are only ever opened for stakeholders' users (a listing it
    is copied to included), but a user who left a site keeps none of its referrals: the folder
    follows what they may see."""
    open_marks = ReviewMark.objects.filter(
        user=user, reviewed_at__isnull=True, referral=OuterRef("pk")
    )
    return referrals_visible_to(user).filter(Exists(open_marks))


def referrals_needing_review_count(user: User) -> int:
    """How many referrals the Review folder lists (the Needs Review tab)."""
    return referrals_needing_review(user).count()


def referral_page_get(user: User, referral_id: int) -> Referral:
    """Everything the referral page shows, in a fixed number of queries whatever the thread's
    length."""
    referral = referral_get_for_user_or_404(user, referral_id)
    messages = (
        Message.objects.filter(messages_visible_to(user))
        .select_related("author", "author_listing", "private_to_site")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )
    prefetch_related_objects(
        [referral],
        Prefetch("messages", queryset=messages),
        Prefetch("ownerships", queryset=ReferralOwnership.objects.select_related("listing__site")),
        Prefetch("copies", queryset=ReferralCopy.objects.select_related("listing__site")),
        "events",
    )
    return referral


def referral_thread(referral: Referral) -> list:
    """The thread as its readers see it: the messages and the status changes (forwarding
    included), oldest first. Needs ``referral_page_get``'s prefetches."""
    notes = [event for event in referral.events.all() if event.is_status_note]
    return sorted(
        [*message_versions_current(referral), *notes],
        key=lambda entry: getattr(entry, "thread_at", entry.created_at),
    )


def message_versions_current(referral: Referral) -> list[Message]:
    """The latest version of each message, each with ``earlier_versions`` (newest first) and
    ``amended_at`` (None if never amended), in its first version's place in the thread. Needs
    ``referral_page_get``'s prefetches."""
    messages = list(referral.messages.all())
    by_previous = {m.previous_version_id: m for m in messages if m.previous_version_id}
    current = []
    for first in (m for m in messages if m.previous_version_id is None):
        chain = [first]
        while chain[-1].pk in by_previous:
            chain.append(by_previous[chain[-1].pk])
        latest = chain[-1]
        latest.earlier_versions = chain[-2::-1]
        latest.amended_at = latest.created_at if len(chain) > 1 else None
        # The thread keeps the message where it was first posted.
        latest.thread_at = first.created_at
        current.append(latest)
    return current


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
    """The referrer's listing (when signed in), every listing that ever owned the referral, then
    the listings it is copied to: everyone Send's channels (the emails, HRM) deliver to."""
    prefetched = getattr(referral, "_prefetched_objects_cache", {})
    if "ownerships" in prefetched:
        listings = [ownership.listing for ownership in referral.ownerships.all()]
    else:
        listings = list(
            Listing.objects.filter(ownerships__referral=referral)
            .select_related("site")
            .order_by("ownerships__since", "ownerships__id")
        )
    if referral.referrer_listing and referral.referrer_listing not in listings:
        listings.insert(0, referral.referrer_listing)
    for listing in referral_copy_listings(referral):
        if listing not in listings:
            listings.append(listing)
    return listings


def referral_copy_listings(referral: Referral) -> list[Listing]:
    """The listings the referral is copied to ("Copy status updates to"), in the order added."""
    if "copies" in getattr(referral, "_prefetched_objects_cache", {}):
        return [copy.listing for copy in referral.copies.all()]
    return list(
        Listing.objects.filter(referral_copies__referral=referral)
        .select_related("site")
        .order_by("referral_copies__added_at", "referral_copies__id")
    )


def referral_can_change_copies(user: User, referral: Referral) -> bool:
    """The referrer's side and the current target may add and remove copied listings."""
    site_ids = user_site_id_set(user)
    return (
        referral.referrer_user_id == user.pk
        or (referral.referrer_listing is not None and referral.referrer_listing.site_id in site_ids)
        or referral.target_listing.site_id in site_ids
    )


def canned_responses_of_user(user: User) -> QuerySet[CannedResponse]:
    """The canned responses of every site the user belongs to."""
    return CannedResponse.objects.filter(site__in=user_site_ids(user)).select_related("site")


def referral_acting_listing(user: User, referral: Referral) -> Listing | None:
    """The stakeholder listing the user speaks for on this referral: the current target if they
    work there, else the referrer's side, else an earlier owner at their site."""
    site_ids = user_site_id_set(user)
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
    # An amendment's kept attachments share their stored file: each file counts once.
    stored = (
        Attachment.objects.filter(message__referral=referral)
        .order_by()
        .values("file")
        .annotate(size=Max("size"))
    )
    return sum(row["size"] for row in stored)


def attachment_get_for_user_or_404(user: User, referral_id: int, attachment_id: int) -> Attachment:
    referral = referral_get_for_user_or_404(user, referral_id)
    # Another site's private note keeps its files too.
    attachment = (
        Attachment.objects.filter(pk=attachment_id, message__referral=referral)
        .filter(message__in=Message.objects.filter(messages_visible_to(user)))
        .select_related("message")
        .first()
    )
    if attachment is None or not message_content_visible(user, attachment.message):
        raise Http404("No such attachment.")
    return attachment


def referrer_messages_visible(referral: Referral) -> QuerySet[Message]:
    """What a referrer following by emailed code reads: the latest version of each shared
    message. They belong to no site (no private note is theirs) and get no history: an earlier
    version may hold what its author took back by amending (a file of the wrong patient)."""
    return Message.objects.filter(
        referral=referral, private_to_site__isnull=True, next_version__isnull=True
    )


def referrer_attachment_get_or_404(referral: Referral, attachment_id: int) -> Attachment:
    """A file the referrer's page shows: on a message of ``referrer_messages_visible``, not
    withdrawn. Anything else is a 404, as for a stranger."""
    attachment = Attachment.objects.filter(
        pk=attachment_id,
        message__in=referrer_messages_visible(referral).filter(withdrawn_at__isnull=True),
    ).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def message_content_visible(user: User, message: Message) -> bool:
    """A withdrawn message's content is for its author only (and support, in the admin)."""
    return not message.is_withdrawn or message.author_id == user.pk


def message_get_for_user_or_404(user: User, referral_id: int, message_id: int) -> Message:
    """A message the user sees on a referral they are a stakeholder of (a private note of another
    site is a 404 like any stranger's request)."""
    referral = referral_get_for_user_or_404(user, referral_id)
    message = (
        Message.objects.filter(messages_visible_to(user), pk=message_id, referral=referral)
        .select_related("author", "author_listing", "referral")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    message.referral = referral
    return message


def message_get_for_author_or_404(user: User, referral_id: int, message_id: int) -> Message:
    """One of ``user``'s own messages on a referral they can see: a 404 for a stranger, a
    ``PermissionDenied`` for another stakeholder's message."""
    referral = referral_get_for_user_or_404(user, referral_id)
    message = (
        Message.objects.select_related("referral", "author", "author_listing")
        .filter(pk=message_id, referral=referral)
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    if message.author_id != user.pk:
        raise PermissionDenied("Only the message's author can change it.")
    return message
