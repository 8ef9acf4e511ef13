"""Needs Review: what each user has not reviewed yet on their referrals (Ocean's Needs Review
folder). Posting a message or a status change opens a mark for every user of every stakeholder
site but the author; a failed delivery of a message (``signals.message_delivery_failed``, sent by
a delivery channel) opens one for its author. Marks close only when the user says so ("Mark as
reviewed", per message or for the whole referral): reading a page is not reviewing it."""

from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone

from directory.models import Listing, User

from .models import Message, Referral, ReferralEvent, ReviewMark
from .signals import message_delivery_failed


def _readers(referral: Referral, stakeholders: list[Listing], author_id: int | None) -> list[int]:
    """Everyone who reads the thread, but its author: the users of every stakeholder site and
    the referrer."""
    users = User.objects.filter(
        is_active=True, sites__in={listing.site_id for listing in stakeholders}
    )
    user_ids = set(users.values_list("pk", flat=True))
    if referral.referrer_user_id:
        user_ids.add(referral.referrer_user_id)
    user_ids.discard(author_id)
    return sorted(user_ids)


def review_marks_for_message(message: Message, stakeholders: list[Listing]) -> None:
    referral = message.referral
    ReviewMark.objects.bulk_create(
        [
            ReviewMark(user_id=user_id, referral=referral, message=message)
            for user_id in _readers(referral, stakeholders, message.author_id)
        ],
        ignore_conflicts=True,
    )


def review_marks_for_event(event: ReferralEvent, stakeholders: list[Listing]) -> None:
    """A status change posted in the thread."""
    referral = event.referral
    ReviewMark.objects.bulk_create(
        [
            ReviewMark(user_id=user_id, referral=referral, event=event)
            for user_id in _readers(referral, stakeholders, event.actor_id)
        ],
        ignore_conflicts=True,
    )


@receiver(message_delivery_failed)
def review_mark_delivery_failed(*, message_id: int, **kwargs) -> None:
    """A message's delivery failed: its author's referral needs review."""
    message = Message.objects.filter(pk=message_id, author__isnull=False).first()
    if message is None:
        return
    ReviewMark.objects.bulk_create(
        [
            ReviewMark(
                user_id=message.author_id,
                referral_id=message.referral_id,
                message=message,
                reason=ReviewMark.Reason.DELIVERY_FAILED,
            )
        ],
        ignore_conflicts=True,
    )


def review_marks_clear(
    *,
    user: User,
    referral: Referral,
    message: Message | None = None,
    event: ReferralEvent | None = None,
) -> int:
    """Mark as reviewed: one message's (or status change's) marks, or all of the referral's.
    Returns how many."""
    marks = ReviewMark.objects.filter(user=user, referral=referral, reviewed_at__isnull=True)
    if message is not None:
        marks = marks.filter(message=message)
    if event is not None:
        marks = marks.filter(event=event)
    return marks.update(reviewed_at=timezone.now())


def review_open_marks(user: User) -> QuerySet[ReviewMark]:
    return ReviewMark.objects.filter(user=user, reviewed_at__isnull=True)


def review_thread_marks(user: User, referral: Referral) -> dict[tuple[str, int], list[str]]:
    """The open marks on one referral, by ("message", id) or ("event", id): the reasons, in
    words."""
    marks: dict[tuple[str, int], list[str]] = {}
    rows = review_open_marks(user).filter(referral=referral)
    for message_id, event_id, reason in rows.values_list("message_id", "event_id", "reason"):
        key = ("message", message_id) if message_id else ("event", event_id)
        marks.setdefault(key, []).append(ReviewMark.Reason(reason).label)
    return marks
