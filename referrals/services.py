"""Writes on referrals. Each function is one business action, in one transaction, and records the
matching event in the referral's log."""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat

from directory.models import Listing, User
from directory.text_limits import message_text_validate

from . import notifications
from .attachments import attachment_inspect
from .channels import delivery_channels, message_text_prepare
from .models import (
    Attachment,
    ComposerToken,
    Message,
    Referral,
    ReferralEvent,
    ReferralOwnership,
)
from .selectors import (
    referral_acting_listing,
    referral_attachments_total,
    referral_stakeholder_listings,
)


def _event(referral: Referral, kind: str, actor: User | None, description: str, name: str = ""):
    ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        actor=actor,
        actor_name=str(actor) if actor else name,
        description=description,
    )


def referral_event_add(
    referral: Referral, *, kind: str, actor: User | None, description: str
) -> None:
    """Record something that happened to the referral outside this app (a delivery channel's
    re-send), in the caller's transaction. The description is cut to fit."""
    if len(description) > 500:
        description = description[:499] + "…"
    _event(referral, kind, actor, description)


def referral_create(
    *,
    target_listing: Listing,
    patient_first_name: str,
    patient_last_name: str,
    patient_birth_date: datetime.date,
    patient_sex: str,
    patient_health_card_number: str,
    patient_health_card_version: str = "",
    patient_province: str = Referral.Province.ON,
    reason: str,
    referrer_user: User | None = None,
    referrer_listing: Listing | None = None,
    referrer_name: str = "",
    referrer_email: str = "",
) -> Referral:
    """Submit a referral. A signed-in referrer sends for one of their listings; anyone else only
    to a listing that does not require sign-in."""
    signed_in = referrer_user is not None
    if signed_in:
        if (
            referrer_listing is None
            or not referrer_user.sites.filter(pk=referrer_listing.site_id).exists()
        ):
            raise PermissionDenied("You can only refer on behalf of your own listings.")
        referrer_name = referrer_name or str(referrer_user)
        referrer_email = referrer_email or referrer_user.email
    elif target_listing.requires_sign_in:
        raise PermissionDenied(f"{target_listing} only accepts referrals from signed-in users.")
    with transaction.atomic():
        referral = Referral.objects.create(
            target_listing=target_listing,
            patient_first_name=patient_first_name,
            patient_last_name=patient_last_name,
            patient_birth_date=patient_birth_date,
            patient_sex=patient_sex,
            patient_health_card_number=patient_health_card_number,
            patient_health_card_version=patient_health_card_version,
            patient_province=patient_province,
            reason=reason,
            referrer_user=referrer_user,
            referrer_listing=referrer_listing,
            referrer_name=referrer_name,
            referrer_email=referrer_email,
            referrer_signed_in=signed_in,
        )
        ReferralOwnership.objects.create(referral=referral, listing=target_listing)
        _event(
            referral,
            ReferralEvent.Kind.CREATED,
            referrer_user,
            f"Sent to {target_listing}" + ("" if signed_in else " by a referrer not signed in"),
            name=referrer_name,
        )
        transaction.on_commit(
            lambda: notifications.referral_notify_received(
                referral, target_listing, forwarded=False
            )
        )
    return referral


def _require_current_receiver(referral: Referral, actor: User) -> None:
    if not actor.sites.filter(pk=referral.target_listing.site_id).exists():
        raise PermissionDenied(f"Only {referral.target_listing} can do this now.")


def referral_forward(*, referral: Referral, to_listing: Listing, actor: User) -> Referral:
    """Move the referral to another listing. The listing it leaves stays a stakeholder."""
    _require_current_receiver(referral, actor)
    if to_listing.pk == referral.target_listing_id:
        raise ValidationError("The referral is already with this listing.")
    if not referral.is_open:
        raise ValidationError(
            f"A {referral.get_status_display().lower()} referral cannot be forwarded."
        )
    with transaction.atomic():
        from_listing = referral.target_listing
        referral.target_listing = to_listing
        referral.status = Referral.Status.FORWARDED
        referral.save(update_fields=["target_listing", "status", "updated_at"])
        ReferralOwnership.objects.get_or_create(referral=referral, listing=to_listing)
        _event(
            referral,
            ReferralEvent.Kind.FORWARDED,
            actor,
            f"Forwarded from {from_listing} to {to_listing}",
        )
        transaction.on_commit(
            lambda: notifications.referral_notify_received(referral, to_listing, forwarded=True)
        )
    return referral


def referral_status_change(*, referral: Referral, status: str, actor: User) -> Referral:
    """The current receiver moves the referral along; only the referrer's side may cancel."""
    if status == Referral.Status.CANCELLED:
        on_referrer_side = referral.referrer_user_id == actor.pk or (
            referral.referrer_listing_id
            and actor.sites.filter(pk=referral.referrer_listing.site_id).exists()
        )
        if not on_referrer_side:
            raise PermissionDenied("Only the referrer can cancel a referral.")
        if not referral.is_open:
            raise ValidationError(
                f"A {referral.get_status_display().lower()} referral cannot be cancelled."
            )
    else:
        _require_current_receiver(referral, actor)
        if not referral.receiver_can_move_to(status):
            raise ValidationError(
                f"A {referral.get_status_display().lower()} referral cannot become "
                f"{Referral.Status(status).label.lower()}."
            )
    with transaction.atomic():
        previous = referral.get_status_display()
        referral.status = status
        referral.save(update_fields=["status", "updated_at"])
        _event(
            referral,
            ReferralEvent.Kind.STATUS_CHANGED,
            actor,
            f"{previous} → {referral.get_status_display()}",
        )
    return referral


class MessageAlreadySent(Exception):
    """The composed message was posted already (its composer token is used): ``message``."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(f"Message {message.pk} was already sent from this composer.")


def message_post(
    *,
    referral: Referral,
    author: User,
    text: str = "",
    files: list[UploadedFile] = (),
    composer_nonce: str = "",
) -> Message:
    """Post a message, with text, files or both, to the referral's thread and hand it to every
    delivery channel (``channels``: the stakeholders' email, HRM). The text is stored as every
    channel delivers it (``message_text_prepare``): text that was only characters a channel
    cannot carry (HRM's files) is no text at all, never an empty report.

    ``composer_nonce`` (``referrals.composer``): a composed message is posted once; a second
    post of the same nonce raises ``MessageAlreadySent`` and posts nothing."""
    try:
        return _message_post(
            referral=referral,
            author=author,
            text=text,
            files=files,
            composer_nonce=composer_nonce,
        )
    except IntegrityError:
        # Only a nonce stored between our check and our insert gets here.
        used = (
            ComposerToken.objects.filter(nonce=composer_nonce).first() if composer_nonce else None
        )
        if used is None:
            raise
        raise MessageAlreadySent(used.message) from None


def _message_post(*, referral, author, text, files, composer_nonce) -> Message:
    message_text_validate(text)
    text = message_text_prepare(text).text
    if not text and not files:
        raise ValidationError("Write a message or attach a file.", code="empty_message")
    inspected = [(upload, *attachment_inspect(upload)) for upload in files]
    author_listing = referral_acting_listing(author, referral)
    with transaction.atomic():
        # Lock the referral so two uploads at once cannot both squeeze under the referral's limit.
        # The lock also makes two posts of one composed message wait for each other: the second
        # finds the first's token.
        Referral.objects.select_for_update().get(pk=referral.pk)
        if composer_nonce:
            used = ComposerToken.objects.select_related("message").filter(nonce=composer_nonce)
            if used_token := used.first():
                raise MessageAlreadySent(used_token.message)
        _check_referral_total(referral, sum(upload.size for upload in files))
        message = Message.objects.create(
            referral=referral, author=author, author_listing=author_listing, text=text
        )
        if composer_nonce:
            ComposerToken.objects.create(nonce=composer_nonce, message=message)
        attachments = [
            Attachment.objects.create(
                message=message,
                file=upload,
                original_name=upload.name[:255],
                content_type=content_type,
                size=upload.size,
                sha256=sha256,
            )
            for upload, content_type, sha256 in inspected
        ]
        # Read once under the lock: every channel (HRM's recipients, the emails) goes to the
        # same stakeholders.
        stakeholders = referral_stakeholder_listings(referral)
        parts = []
        if text:
            parts.append("text")
        if files:
            parts.append(f"{len(files)} file{'s' if len(files) > 1 else ''}")
        # In this transaction: a channel that fails undoes the Send (nothing half-delivered).
        for channel in delivery_channels():
            channel.message_posted(message, stakeholders=stakeholders, attachments=attachments)
        _event(
            referral,
            ReferralEvent.Kind.MESSAGE_POSTED,
            author,
            "Message posted (" + ", ".join(parts) + ")",
        )
    return message


def _check_referral_total(referral: Referral, adding: int) -> None:
    limit = settings.REFERRAL_ATTACHMENTS_MAX_BYTES
    total = referral_attachments_total(referral)
    if total + adding > limit:
        raise ValidationError(
            f"These files would bring the referral's attachments to "
            f"{filesizeformat(total + adding)}; "
            f"a referral may hold at most {filesizeformat(limit)} "
            f"({filesizeformat(max(limit - total, 0))} left).",
            code="referral_total",
        )
