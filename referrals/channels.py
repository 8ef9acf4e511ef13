"""Delivery channels: the ways a posted message leaves the thread (the stakeholders' email
notification, HRM, later FHIR or fax). Referrals knows them only by the setting
``MESSAGE_DELIVERY_CHANNELS``, a list of dotted paths to ``DeliveryChannel`` subclasses, and
imports none of them: an app that delivers messages depends on referrals, never the other way.

Send (``services.message_post``) calls every channel, in the setting's order:

1. ``text_prepare`` on the typed text, before anything is saved (the form calls it too, to tell
   the author what will change): the thread stores the text as the strictest channel delivers it;
2. ``message_posted`` inside Send's transaction, with the message, the stakeholders and the
   attachments Send read under its lock. A channel that raises rolls the whole Send back; one
   that does I/O (a broker, SMTP) defers it with ``transaction.on_commit``, so a rolled-back
   Send sends nothing and a slow server never holds the referral's lock.

An amendment (``message_amended``) and a withdrawal (``message_withdrawn``) reach every channel
the same way, inside the transaction that records them.
Before Send, the composer asks each channel's ``recipients_preview`` what it would do for each
stakeholder (``message_recipients_preview``), and says where the message will go.

The referral page asks each channel for a ``ThreadStatus``: what it shows beside each message (a
template and its data) and what its script needs to keep that current (attributes on the
thread's element, e.g. the URL it polls, and a template shown once, e.g. a live region).
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils.module_loading import import_string

from directory.models import Listing, User

from . import notifications
from .models import Attachment, Message, Referral


class PreparedText(NamedTuple):
    text: str
    changes: tuple[str, ...]  # what was changed, in plain words for the author


@dataclass(frozen=True)
class MessageStatus:
    """What a channel shows beside one message: ``template`` is included with this object in its
    context as ``status``; ``detail`` is the channel's own data for it."""

    template: str
    detail: Any = None


@dataclass(frozen=True)
class ThreadStatus:
    """What a channel shows on one referral's thread."""

    messages: dict[int, MessageStatus]  # by message id; a message without one shows nothing
    # HTML attributes on the thread's element, for the channel's script (the URL it polls).
    attributes: dict[str, str] = field(default_factory=dict)
    # Included once at the top of the thread (a live region the script announces changes in).
    template: str = ""


@dataclass(frozen=True)
class Route:
    """What one channel would do for one stakeholder if the message were sent now."""

    label: str  # the channel in the author's words: "email", "HRM into their EMR"
    goes: bool
    why: str = ""  # where it goes ("to the address"), or why not, in plain words


@dataclass(frozen=True)
class StakeholderPreview:
    """One stakeholder in the composer's "where this message will go"."""

    name: str
    is_author_side: bool
    routes: tuple[Route, ...]

    @property
    def going(self) -> list[Route]:
        return [route for route in self.routes if route.goes]

    @property
    def not_going(self) -> list[Route]:
        return [route for route in self.routes if not route.goes]


class DeliveryChannel:
    """One way out for a posted message. Every hook has a do-nothing default: a channel overrides
    the ones it needs. Channels are made once per process (no arguments) and must keep no
    per-request state."""

    def text_prepare(self, text: str) -> PreparedText:
        """The text as this channel can deliver it, and what changed, for the author. Preparing
        prepared text must change nothing: the form prepares it, then Send again."""
        return PreparedText(text, ())

    def message_posted(
        self, message: Message, *, stakeholders: list[Listing], attachments: list[Attachment]
    ) -> None:
        """Called inside Send's transaction: record what this channel will deliver, and defer any
        I/O with ``transaction.on_commit``. ``stakeholders``: the referral's stakeholder listings
        (``referral_stakeholder_listings``), read under the referral's lock."""

    def message_amended(
        self,
        old_message: Message,
        new_message: Message,
        *,
        actor: User,
        stakeholders: list[Listing],
        attachments: list[Attachment],
        replaced_attachments: Mapping[int, Attachment],
    ) -> None:
        """Called inside the amending Send's transaction, as ``message_posted`` is, when
        ``new_message`` replaces ``old_message``: deliver it as a new version of what went out
        for the old one. ``attachments``: the new message's; ``replaced_attachments``: for each
        old attachment kept (possibly with a new file), its id to the new message's attachment
        carrying it on. An old attachment not in it was removed; a new one not among its
        values was added."""

    def message_withdrawn(self, message: Message, *, actor: User, reason: str) -> None:
        """Called inside the Delete's transaction: take back what this channel delivered of
        ``message`` (``actor`` withdrew it, for ``reason``), and send nothing more of it."""

    def recipients_preview(
        self,
        *,
        referral: Referral,
        author: User,
        author_listing: Listing | None,
        stakeholders: list[Listing],
    ) -> dict[int | None, Route]:
        """What this channel would do for each stakeholder if ``author`` sent now, by listing
        id; ``None`` for a referrer who was not signed in (no listing). A stakeholder left out
        is not mentioned; read only, in a fixed number of queries."""
        return {}

    def thread_status(
        self, *, referral: Referral, messages: list[Message], viewer: User
    ) -> ThreadStatus | None:
        """What ``viewer`` sees of this channel on the referral's page, in a fixed number of
        queries whatever the number of messages; None to show nothing."""
        return None


class EmailChannel(DeliveryChannel):
    """Tells every stakeholder except the author's own listing, by email, that a message was
    posted (``notifications.message_notify``). The email carries no patient information."""

    def message_posted(self, message, *, stakeholders, attachments):
        transaction.on_commit(lambda: notifications.message_notify(message, stakeholders))

    def recipients_preview(self, *, referral, author, author_listing, stakeholders):
        routes = {}
        for listing in [*stakeholders, None]:
            if listing is None and referral.referrer_listing_id:
                continue
            if listing is not None and listing == author_listing:
                routes[listing.pk] = Route("email", False, "Your own side is not emailed.")
                continue
            address = notifications.stakeholder_address(referral, listing)
            routes[listing.pk if listing else None] = (
                Route("email", True, f"to {address}")
                if address
                else Route("email", False, "No email address on file.")
            )
        return routes


@functools.cache
def delivery_channels() -> tuple[DeliveryChannel, ...]:
    """The channels of ``MESSAGE_DELIVERY_CHANNELS``, in its order, made once."""
    return tuple(import_string(path)() for path in settings.MESSAGE_DELIVERY_CHANNELS)


@receiver(setting_changed)
def _channels_setting_changed(*, setting, **kwargs):
    if setting == "MESSAGE_DELIVERY_CHANNELS":
        delivery_channels.cache_clear()


def message_recipients_preview(
    *, referral: Referral, author: User, author_listing: Listing | None, stakeholders: list[Listing]
) -> list[StakeholderPreview]:
    """Where a message ``author`` sends now would go, per stakeholder: the thread, and what each
    channel says (``recipients_preview``)."""
    by_channel = [
        channel.recipients_preview(
            referral=referral,
            author=author,
            author_listing=author_listing,
            stakeholders=stakeholders,
        )
        for channel in delivery_channels()
    ]
    thread = Route("thread", True)
    previews = []
    if not referral.referrer_listing_id:
        previews.append(
            StakeholderPreview(
                name=f"{referral.referrer_name} (referrer, not signed in)",
                is_author_side=False,
                routes=(thread, *(routes[None] for routes in by_channel if None in routes)),
            )
        )
    for listing in stakeholders:
        previews.append(
            StakeholderPreview(
                name=f"{listing} · {listing.site}",
                is_author_side=listing == author_listing,
                routes=(
                    thread,
                    *(routes[listing.pk] for routes in by_channel if listing.pk in routes),
                ),
            )
        )
    return previews


def message_text_prepare(text: str) -> PreparedText:
    """The typed text as every channel can deliver it, and every change, for the author."""
    changes = []
    for channel in delivery_channels():
        text, changed = channel.text_prepare(text)
        changes.extend(changed)
    return PreparedText(text, tuple(changes))
