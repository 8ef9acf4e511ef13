"""Email notifications. They carry no patient information: only that something happened on a
referral, and a link to read it: to sign in, or, for a referrer who was not signed in, to the
page that emails them a one-time code (``referrer_access``)."""

from django.conf import settings
from django.urls import reverse

from directory.emails import email_send_after_commit
from directory.models import Listing

from .models import Message, Referral


def _referrer_address(referral: Referral) -> str:
    if referral.referrer_listing_id:
        return referral.referrer_listing.notification_address or referral.referrer_user.email
    return referral.referrer_email


def stakeholder_address(referral: Referral, listing: Listing | None) -> str:
    """Where a stakeholder is emailed: ``None`` is a referrer who was not signed in."""
    if listing is None or listing == referral.referrer_listing:
        return _referrer_address(referral)
    return listing.notification_address


def _listing_addresses(
    referral: Referral, excluded: Listing | None, stakeholders: list[Listing]
) -> list[str]:
    return sorted(
        {
            listing.notification_address
            for listing in stakeholders
            if listing != excluded
            and listing != referral.referrer_listing
            and listing.notification_address
        }
    )


def _send(subject: str, body: str, addresses: list[str]) -> None:
    email_send_after_commit(
        subject=subject, body=body, addresses=addresses, about=f"a notice ({subject!r})"
    )


def _referral_url(referral: Referral) -> str:
    return settings.SITE_URL + reverse("referrals:detail", args=[referral.pk])


def referrer_follow_url(referral: Referral) -> str:
    return settings.SITE_URL + reverse("referrals:referrer_follow", args=[referral.reference])


def _link_line(referral: Referral, *, to_referrer: bool, verb: str = "read it") -> str:
    if to_referrer and not referral.referrer_signed_in:
        return (
            f"To {verb}, open this link; we will email you a one-time code to confirm it is "
            f"you: {referrer_follow_url(referral)}\n"
        )
    return f"Sign in to {verb}: {_referral_url(referral)}\n"


def _send_to_referrer(referral: Referral, subject: str, text: str, verb: str = "read it") -> None:
    address = _referrer_address(referral)
    if address:
        _send(subject, f"{text}\n\n{_link_line(referral, to_referrer=True, verb=verb)}", [address])


def message_notify(message: Message, stakeholders: list[Listing]) -> None:
    """Tell every stakeholder except the author's own side that a message was posted.
    ``stakeholders``: the referral's stakeholder listings (``referral_stakeholder_listings``)."""
    referral = message.referral
    by = message.author_display
    if message.author_listing:
        by += f" ({message.author_listing})"
    text = f"{by} posted a message on referral #{referral.pk}."
    subject = f"New message on referral #{referral.pk}"
    _send(
        subject,
        f"{text}\n\n{_link_line(referral, to_referrer=False)}",
        _listing_addresses(referral, message.author_listing, stakeholders),
    )
    written_by_referrer = message.author_id is None or (
        referral.referrer_listing_id and message.author_listing_id == referral.referrer_listing_id
    )
    if not written_by_referrer:
        _send_to_referrer(referral, subject, text)


def referral_notify_received(referral: Referral, listing: Listing, *, forwarded: bool) -> None:
    verb = "forwarded to" if forwarded else "sent to"
    text = f"Referral #{referral.pk} was {verb} {listing}."
    _send(
        f"Referral #{referral.pk} {verb} {listing}",
        f"{text}\n\n{_link_line(referral, to_referrer=False, verb='review it')}",
        [listing.notification_address],
    )
    if forwarded:
        _send_to_referrer(referral, f"Your referral #{referral.pk} was forwarded", text)


def referral_notify_sent(referral: Referral) -> None:
    """A referrer who was not signed in gets the link they will follow their referral by."""
    if not referral.referrer_signed_in:
        _send_to_referrer(
            referral,
            f"Your referral #{referral.pk} was sent",
            f"Your referral #{referral.pk} was sent to {referral.target_listing}. Their replies "
            "and changes to it are in the referral; you are emailed when there is one.",
            verb="follow it",
        )


def referral_notify_status(
    referral: Referral, *, previous: str, status: str, by: Listing | None
) -> None:
    """Ocean's rules (PRODUCT-NOTES section 4): the referrer is emailed when a booking is added,
    changed or removed and when the referral is declined, not on a plain accept or completion.
    A decline by a listing the referral was forwarded to goes back to those who forwarded it,
    not to the original referrer. A cancellation is emailed to the current receiver; a re-open,
    to whoever was told of the decline or cancellation it undoes. The reason stays in the thread:
    it may name the patient's condition."""
    Status = Referral.Status
    number = f"#{referral.pk}"
    who = str(by or referral.target_listing)
    receiver = [referral.target_listing.notification_address]
    earlier_owners = [
        ownership.listing.notification_address
        for ownership in referral.ownerships.select_related("listing")
        if ownership.listing_id != referral.target_listing_id
    ]
    forwarded = bool(earlier_owners)
    if status == Status.DECLINED:
        text = f"Referral {number} was declined by {who}. The reason is in the referral."
        subject = f"Referral {number} was declined"
        if forwarded:
            _send(subject, f"{text}\n\n{_link_line(referral, to_referrer=False)}", earlier_owners)
        else:
            _send_to_referrer(referral, subject, text)
    elif status == Status.BOOKED:
        verb = "changed" if previous == Status.BOOKED else "booked"
        text = f"The appointment for referral {number} was {verb} by {who}."
        _send_to_referrer(referral, f"Referral {number}: appointment {verb}", text)
    elif previous == Status.BOOKED and status == Status.ACCEPTED:
        text = f"The appointment for referral {number} was removed by {who}."
        _send_to_referrer(referral, f"Referral {number}: appointment removed", text)
    elif status == Status.CANCELLED:
        text = f"Referral {number} was cancelled by the referrer."
        _send(
            f"Referral {number} was cancelled",
            f"{text}\n\n{_link_line(referral, to_referrer=False)}",
            receiver,
        )
    elif status == Status.NEW and previous == Status.CANCELLED:
        text = f"Referral {number} was re-opened by the referrer."
        _send(
            f"Referral {number} was re-opened",
            f"{text}\n\n{_link_line(referral, to_referrer=False)}",
            receiver,
        )
    elif status == Status.NEW and previous == Status.DECLINED:
        text = f"Referral {number} was re-opened by {who}: it is no longer declined."
        subject = f"Referral {number} was re-opened"
        if forwarded:
            _send(subject, f"{text}\n\n{_link_line(referral, to_referrer=False)}", earlier_owners)
        else:
            _send_to_referrer(referral, subject, text)
