"""Writes on referrals. Each function is one business action, in one transaction, and records the
matching event in the referral's log."""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from directory.models import Listing, User
from directory.text_limits import message_text_validate

from . import notifications
from .attachments import attachment_inspect
from .channels import delivery_channels, message_text_prepare
from .models import (
    Attachment,
    CannedResponse,
    ComposerToken,
    Message,
    Referral,
    ReferralCopy,
    ReferralEvent,
    ReferralOwnership,
)
from .review import review_marks_for_event, review_marks_for_message
from .selectors import (
    referral_acting_listing,
    referral_attachments_total,
    referral_can_change_copies,
    referral_stakeholder_listings,
)


def _event(
    referral: Referral,
    kind: str,
    actor: User | None,
    description: str,
    name: str = "",
    note: str = "",
    listing: Listing | None = None,
) -> ReferralEvent:
    if listing is None and actor is not None and kind in ReferralEvent.THREAD_KINDS:
        listing = referral_acting_listing(actor, referral)
    event = ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        actor=actor,
        actor_name=str(actor) if actor else name,
        actor_listing=listing,
        description=description,
        note=note,
    )
    if event.is_status_note:
        # Posted in the thread: every stakeholder's users have it to review.
        review_marks_for_event(event, referral_stakeholder_listings(referral))
    return event


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
    copy_listings: list[Listing] = (),
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
        for listing in copy_listings:
            _copy_add(referral, listing, referrer_user)
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
        transaction.on_commit(lambda: notifications.referral_notify_sent(referral))
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


def _on_referrer_side(referral: Referral, actor: User) -> bool:
    return referral.referrer_user_id == actor.pk or bool(
        referral.referrer_listing_id
        and actor.sites.filter(pk=referral.referrer_listing.site_id).exists()
    )


def _status_change_text(referral: Referral, previous: str, status: str, reason: str) -> str:
    Status = Referral.Status
    if status == Status.DECLINED:
        return f"Declined. Reason: {reason}"
    if status == Status.BOOKED:
        when = timezone.localtime(referral.appointment_at).strftime("%Y-%m-%d %H:%M")
        verb = "Booking changed" if previous == Status.BOOKED else "Booked"
        return f"{verb}: appointment on {when}." + (f"\n{reason}" if reason else "")
    if previous == Status.BOOKED and status == Status.ACCEPTED:
        return "Booking removed: accepted, waiting for a new appointment." + (
            f"\n{reason}" if reason else ""
        )
    if status == Status.NEW:
        text = "Re-opened: the referral is new again."
    elif status == Status.CANCELLED:
        text = "Cancelled by the referrer."
    else:
        text = f"Marked {Status(status).label.lower()}."
    return text + (f"\n{reason}" if reason else "")


def referral_status_change(
    *,
    referral: Referral,
    status: str,
    actor: User,
    reason: str = "",
    appointment_at: datetime.datetime | None = None,
) -> Referral:
    """The current receiver moves the referral along; only the referrer's side may cancel, and
    re-open what it cancelled. A decline needs a reason; a booking, the appointment's date and
    time. Each change is posted in the thread, logged, and emailed as Ocean does
    (``notifications.referral_notify_status``)."""
    Status = Referral.Status
    reason = reason.strip()
    previous = referral.status
    if status == Status.CANCELLED or (previous == Status.CANCELLED and status == Status.NEW):
        if not _on_referrer_side(referral, actor):
            raise PermissionDenied("Only the referrer can cancel a referral or re-open it.")
        if status == Status.CANCELLED and not referral.is_open:
            raise ValidationError(
                f"A {referral.get_status_display().lower()} referral cannot be cancelled."
            )
    else:
        _require_current_receiver(referral, actor)
        if not referral.receiver_can_move_to(status):
            raise ValidationError(
                f"A {referral.get_status_display().lower()} referral cannot become "
                f"{Status(status).label.lower()}."
            )
    if status == Status.DECLINED and not reason:
        raise ValidationError("Give the reason for declining.", code="reason_required")
    if status == Status.BOOKED and appointment_at is None:
        raise ValidationError("Give the appointment's date and time.", code="appointment_required")
    with transaction.atomic():
        previous_label = referral.get_status_display()
        referral.status = status
        if status == Status.BOOKED:
            referral.appointment_at = appointment_at
        elif status != Status.COMPLETED:
            referral.appointment_at = None
        referral.save(update_fields=["status", "appointment_at", "updated_at"])
        _event(
            referral,
            ReferralEvent.Kind.STATUS_CHANGED,
            actor,
            f"{previous_label} → {referral.get_status_display()}",
            note=_status_change_text(referral, previous, status, reason),
        )
        acting = referral_acting_listing(actor, referral)
        transaction.on_commit(
            lambda: notifications.referral_notify_status(
                referral, previous=previous, status=status, by=acting
            )
        )
    return referral


def _copy_add(referral: Referral, listing: Listing, actor: User | None) -> bool:
    """Copy the referral to ``listing``; False when it is already a stakeholder."""
    if listing in referral_stakeholder_listings(referral):
        return False
    ReferralCopy.objects.create(referral=referral, listing=listing, added_by=actor)
    return True


def referral_copy_add(*, referral: Referral, listing: Listing, actor: User) -> ReferralCopy:
    """Copy status updates to ``listing``: its site's members see the thread from now on, are
    emailed as stakeholders and, when it is live on HRM, receive the messages in their EMR."""
    if not referral_can_change_copies(actor, referral):
        raise PermissionDenied("Only the referrer or the current receiver can change the copies.")
    with transaction.atomic():
        Referral.objects.select_for_update().get(pk=referral.pk)
        if not _copy_add(referral, listing, actor):
            raise ValidationError(f"{listing} is already a stakeholder of this referral.")
        _event(referral, ReferralEvent.Kind.COPY_CHANGED, actor, f"Copies now go to {listing}")
    return ReferralCopy.objects.get(referral=referral, listing=listing)


def referral_copy_remove(*, referral: Referral, listing: Listing, actor: User) -> None:
    """Stop copying the referral to ``listing``: its site no longer sees it (unless it is a
    stakeholder some other way)."""
    if not referral_can_change_copies(actor, referral):
        raise PermissionDenied("Only the referrer or the current receiver can change the copies.")
    with transaction.atomic():
        Referral.objects.select_for_update().get(pk=referral.pk)
        deleted, _ = ReferralCopy.objects.filter(referral=referral, listing=listing).delete()
        if not deleted:
            raise ValidationError(f"{listing} does not get copies of this referral.")
        _event(
            referral, ReferralEvent.Kind.COPY_CHANGED, actor, f"Copies no longer go to {listing}"
        )


class MessageAlreadySent(Exception):
    """The composed message was posted already (its composer token is used): ``message``."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(f"Message {message.pk} was already sent from this composer.")


def _composer_nonce_unused(composer_nonce: str) -> None:
    """Under the referral's lock: a composed message already posted raises
    ``MessageAlreadySent`` (``referrals.composer``)."""
    if composer_nonce:
        used = ComposerToken.objects.select_related("message").filter(nonce=composer_nonce)
        if used_token := used.first():
            raise MessageAlreadySent(used_token.message)


def _composer_nonce_raced(composer_nonce: str) -> None:
    """After an ``IntegrityError``: a nonce stored between our check and our insert (the unique
    constraint caught it) is the message already sent; anything else is the caller's to raise."""
    used = ComposerToken.objects.filter(nonce=composer_nonce).first() if composer_nonce else None
    if used is not None:
        raise MessageAlreadySent(used.message) from None


def message_post(
    *,
    referral: Referral,
    author: User | None,
    text: str = "",
    files: list[UploadedFile] = (),
    composer_nonce: str = "",
    private: bool = False,
) -> Message:
    """Post a message, with text, files or both, to the referral's thread and hand it to every
    delivery channel (``channels``: the stakeholders' email, HRM). The text is stored as every
    channel delivers it (``message_text_prepare``): text that was only characters a channel
    cannot carry (HRM's files) is no text at all, never an empty report.

    ``author`` None: the referrer who was not signed in, who proved their address with an
    emailed code (``referrer_access``), writes under the name they gave.

    ``composer_nonce`` (``referrals.composer``): a composed message is posted once; a second
    post of the same nonce raises ``MessageAlreadySent`` and posts nothing.

    ``private``: a note for the author's own site only (the site of the listing they speak for):
    no channel is called, so it is never emailed nor sent to HRM, and no other site sees it."""
    if author is None and referral.referrer_signed_in:
        raise PermissionDenied("Only a referrer who was not signed in writes without an account.")
    try:
        return _message_post(
            referral=referral,
            author=author,
            text=text,
            files=files,
            composer_nonce=composer_nonce,
            private=private,
        )
    except IntegrityError:
        _composer_nonce_raced(composer_nonce)
        raise


def _message_post(*, referral, author, text, files, composer_nonce, private) -> Message:
    message_text_validate(text)
    text = message_text_prepare(text).text
    if not text and not files:
        raise ValidationError("Write a message or attach a file.", code="empty_message")
    inspected = [(upload, *attachment_inspect(upload)) for upload in files]
    author_listing = referral_acting_listing(author, referral) if author else None
    private_to_site = None
    if private:
        if author_listing is None:
            raise ValidationError(
                "A private note is for your site: you write for no listing on this referral.",
                code="private_without_site",
            )
        private_to_site = author_listing.site
    with transaction.atomic():
        # Lock the referral so two uploads at once cannot both squeeze under the referral's limit.
        # The lock also makes two posts of one composed message wait for each other: the second
        # finds the first's token.
        Referral.objects.select_for_update().get(pk=referral.pk)
        _composer_nonce_unused(composer_nonce)
        _check_referral_total(referral, sum(upload.size for upload in files))
        message = Message.objects.create(
            referral=referral,
            author=author,
            author_listing=author_listing,
            author_name="" if author else referral.referrer_name,
            text=text,
            private_to_site=private_to_site,
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
        if private_to_site is not None:
            # The event log is every stakeholder's: a private note leaves no line in it.
            return message
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
        review_marks_for_message(message, stakeholders)
        _event(
            referral,
            ReferralEvent.Kind.MESSAGE_POSTED,
            author,
            "Message posted (" + ", ".join(parts) + ")",
            name=message.author_display,
            listing=author_listing,
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


def canned_response_save(
    *, site, name: str, text: str, actor: User, canned: CannedResponse | None = None
) -> CannedResponse:
    """Create or change one of the site's canned responses; only its members may."""
    if not actor.sites.filter(pk=site.pk).exists():
        raise PermissionDenied("Only the site's members can change its canned responses.")
    message_text_validate(text)
    if (
        CannedResponse.objects.filter(site=site, name=name)
        .exclude(pk=getattr(canned, "pk", None))
        .exists()
    ):
        raise ValidationError(f"{site} already has a canned response named “{name}”.")
    canned = canned or CannedResponse(site=site)
    canned.name = name
    canned.text = text
    canned.save()
    return canned


def canned_response_delete(*, canned: CannedResponse, actor: User) -> None:
    if not actor.sites.filter(pk=canned.site_id).exists():
        raise PermissionDenied("Only the site's members can change its canned responses.")
    canned.delete()


def _require_author(message: Message, actor: User, doing: str) -> None:
    if message.author_id is None or message.author_id != actor.pk:
        raise PermissionDenied(f"Only the message's author can {doing} it.")
    if message.is_withdrawn:
        raise ValidationError(
            f"This message was withdrawn: it cannot be {doing}ed.", code="withdrawn"
        )
    if Message.objects.filter(previous_version=message).exists():
        raise ValidationError(
            "This message was amended since: open its latest version.", code="not_latest"
        )


def message_amend(
    *,
    message: Message,
    author: User,
    text: str = "",
    keep_attachment_ids: list[int] = (),
    files: list[UploadedFile] = (),
    composer_nonce: str = "",
) -> Message:
    """The author's Amend: a new message replacing ``message`` (``previous_version``), with the
    new text, the old attachments in ``keep_attachment_ids`` carried on (same stored file) and
    any new files; every delivery channel is told (``message_amended``) in the same
    transaction, so each EMR gets a new version of each part, a withdrawal of each part
    removed. The stakeholders are told as for a new message. ``composer_nonce`` as for
    ``message_post``."""
    try:
        return _message_amend(
            message=message,
            author=author,
            text=text,
            keep_attachment_ids=keep_attachment_ids,
            files=files,
            composer_nonce=composer_nonce,
        )
    except IntegrityError:
        _composer_nonce_raced(composer_nonce)
        raise


def _message_amend(*, message, author, text, keep_attachment_ids, files, composer_nonce):
    message_text_validate(text)
    text = message_text_prepare(text).text
    keep_ids = set(keep_attachment_ids)
    inspected = [(upload, *attachment_inspect(upload)) for upload in files]
    referral = message.referral
    with transaction.atomic():
        Referral.objects.select_for_update().get(pk=referral.pk)
        _composer_nonce_unused(composer_nonce)
        message = Message.objects.select_for_update().get(pk=message.pk)
        _require_author(message, author, "amend")
        kept = [a for a in message.attachments.order_by("id") if a.pk in keep_ids]
        if not text and not kept and not files:
            raise ValidationError(
                "Write a message or keep or attach a file; to take the message back, delete it.",
                code="empty_message",
            )
        _check_referral_total(referral, sum(upload.size for upload in files))
        new = Message.objects.create(
            referral=referral,
            author=author,
            author_listing=message.author_listing,
            text=text,
            previous_version=message,
            # A private note's new version is as private: it never leaves the site either.
            private_to_site=message.private_to_site,
        )
        if composer_nonce:
            ComposerToken.objects.create(nonce=composer_nonce, message=new)
        # A kept attachment goes on as a new row on the same stored file: each version lists
        # its own attachments, and the file is stored once.
        replaced = {
            old.pk: Attachment.objects.create(
                message=new,
                file=old.file.name,
                original_name=old.original_name,
                content_type=old.content_type,
                size=old.size,
                sha256=old.sha256,
            )
            for old in kept
        }
        added = [
            Attachment.objects.create(
                message=new,
                file=upload,
                original_name=upload.name[:255],
                content_type=content_type,
                size=upload.size,
                sha256=sha256,
            )
            for upload, content_type, sha256 in inspected
        ]
        attachments = [*replaced.values(), *added]
        if message.private_to_site_id is not None:
            # Never emailed, never delivered, no line in the stakeholders' event log.
            return new
        stakeholders = referral_stakeholder_listings(referral)
        for channel in delivery_channels():
            channel.message_amended(
                message,
                new,
                actor=author,
                stakeholders=stakeholders,
                attachments=attachments,
                replaced_attachments=replaced,
            )
        review_marks_for_message(new, stakeholders)
        removed = message.attachments.count() - len(kept)
        changes = [f"{len(kept)} file{'s' if len(kept) != 1 else ''} kept"]
        if removed:
            changes.append(f"{removed} removed")
        if added:
            changes.append(f"{len(added)} added")
        _event(
            referral,
            ReferralEvent.Kind.MESSAGE_AMENDED,
            author,
            f"Message {message.pk} amended (" + ", ".join(changes) + ")",
            listing=message.author_listing,
        )
    return new


def message_withdraw(*, message: Message, actor: User, reason: str) -> Message:
    """The author's Delete: the thread keeps a marker with ``reason`` and hides the content from
    everyone else; every delivery channel takes back what it delivered and sends nothing more
    (``message_withdrawn``), in the same transaction."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason for deleting this message.", code="reason_required")
    if len(reason) > 500:
        raise ValidationError("Keep the reason to 500 characters.", code="reason_too_long")
    with transaction.atomic():
        Referral.objects.select_for_update().get(pk=message.referral_id)
        message = Message.objects.select_for_update().get(pk=message.pk)
        _require_author(message, actor, "delete")
        message.withdrawn_at = timezone.now()
        message.withdrawn_by = actor
        message.withdrawal_reason = reason
        message.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
        # Its earlier versions go with it: no one but the author reads any of them now. The
        # chain is walked in memory from one read of the referral's amended messages, however
        # many times this one was amended.
        previous_of = dict(
            Message.objects.filter(
                referral_id=message.referral_id, previous_version__isnull=False
            ).values_list("pk", "previous_version_id")
        )
        earlier, previous_id = [], message.previous_version_id
        while previous_id:
            earlier.append(previous_id)
            previous_id = previous_of.get(previous_id)
        Message.objects.filter(pk__in=earlier).update(
            withdrawn_at=message.withdrawn_at, withdrawn_by=actor, withdrawal_reason=reason
        )
        if message.private_to_site_id is not None:
            return message  # nothing of a private note left the site
        for channel in delivery_channels():
            channel.message_withdrawn(message, actor=actor, reason=reason)
        _event(
            message.referral,
            ReferralEvent.Kind.MESSAGE_WITHDRAWN,
            actor,
            f"Message {message.pk} withdrawn by its author",
            listing=message.author_listing,
        )
    return message
