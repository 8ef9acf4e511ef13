"""Email notifications. They carry no patient information: only that something happened on a
referral, and a link to sign in and read it."""

import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from directory.models import Listing

from .models import Message, Referral

logger = logging.getLogger(__name__)


def _referrer_address(referral: Referral) -> str:
    if referral.referrer_listing_id:
        return referral.referrer_listing.notification_address or referral.referrer_user.email
    return referral.referrer_email


def stakeholder_address(referral: Referral, listing: Listing | None) -> str:
    """Where a stakeholder is emailed: ``None`` is a referrer who was not signed in."""
    if listing is None or listing == referral.referrer_listing:
        return _referrer_address(referral)
    return listing.notification_address


def _addresses_except(
    referral: Referral, excluded: Listing | None, stakeholders: list[Listing]
) -> list[str]:
    addresses = []
    for listing in stakeholders:
        if listing != excluded and listing != referral.referrer_listing:
            addresses.append(listing.notification_address)
    if excluded is None or excluded != referral.referrer_listing:
        addresses.append(_referrer_address(referral))
    return sorted({a for a in addresses if a})


def _send(subject: str, body: str, addresses: list[str]) -> None:
    if not addresses:
        return
    try:
        # A header is one line: a name saved with a line break must not lose the email.
        subject = " ".join(subject.split())
        send_mass_mail(
            [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
        )
    except Exception:
        # Whatever the mail fails on, what it tells of is committed: log it, never answer 500.
        logger.exception("Could not send notification email %r", subject)


def _referral_url(referral: Referral) -> str:
    return settings.SITE_URL + reverse("referrals:detail", args=[referral.pk])


def message_notify(message: Message, stakeholders: list[Listing]) -> None:
    """Tell every stakeholder except the author's own listing that a message was posted.
    ``stakeholders``: the referral's stakeholder listings (``referral_stakeholder_listings``)."""
    referral = message.referral
    body = (
        f"{message.author} ({message.author_listing or 'no listing'}) posted a message on "
        f"referral #{referral.pk}.\n\nSign in to read it: {_referral_url(referral)}\n"
    )
    _send(
        f"New message on referral #{referral.pk}",
        body,
        _addresses_except(referral, message.author_listing, stakeholders),
    )


def referral_notify_received(referral: Referral, listing: Listing, *, forwarded: bool) -> None:
    verb = "forwarded to" if forwarded else "sent to"
    body = (
        f"Referral #{referral.pk} was {verb} {listing}.\n\n"
        f"Sign in to review it: {_referral_url(referral)}\n"
    )
    _send(f"Referral #{referral.pk} {verb} {listing}", body, [listing.notification_address])
    if forwarded:
        _send(
            f"Your referral #{referral.pk} was forwarded",
            body,
            [a for a in [_referrer_address(referral)] if a],
        )
