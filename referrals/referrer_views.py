"""The pages of a referrer who was not signed in (``referrer_access``): the emailed link opens
the code page, the code opens the referral's status and thread, where they reply and attach.
Anyone may open these URLs: each view's guard is ``_referral_or_none`` plus the session's
access, and a stranger sees only the code page, the same whether the referral exists or not."""

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from security.uploads import accepts_uploads

from . import services
from .access import Action, referral_access_record
from .attachments import attachment_download_name, attachment_too_large_error
from .forms import MessageForm, ReferrerCodeForm
from .models import ReferralEvent
from .referrer_access import (
    CodeResult,
    SendResult,
    referral_for_referrer,
    referrer_access_end,
    referrer_code_send,
    referrer_code_verify,
    referrer_has_access,
)
from .selectors import referrer_attachment_get_or_404, referrer_messages_visible


def _trail_name(referral) -> str:
    return f"{referral.referrer_email} (referrer, by emailed code)"[:150]


def _code_page(
    request, reference, *, form=None, status=200, sent=False, throttled=False, mail_failed=False
):
    return render(
        request,
        "referrals/referrer_code.html",
        {
            "reference": reference,
            "form": form or ReferrerCodeForm(),
            "sent": sent,
            "throttled": throttled,
            "mail_failed": mail_failed,
            "minutes": settings.REFERRER_CODE_TTL_SECONDS // 60,
        },
        status=status,
    )


def _thread_page(request, referral, *, message_form=None, status=200):
    referral_access_record(
        request,
        referral,
        action=Action.VIEWED,
        record="referral (referrer)",
        actor_username=_trail_name(referral),
    )
    messages = list(
        referrer_messages_visible(referral)
        .select_related("author", "author_listing")
        .prefetch_related("attachments")
    )
    notes = ReferralEvent.objects.filter(
        referral=referral, kind__in=ReferralEvent.THREAD_KINDS
    ).select_related("actor_listing")
    for message in messages:
        for attachment in message.attachments.all():
            attachment.download_name = attachment_download_name(
                attachment.original_name, attachment.content_type
            )
    return render(
        request,
        "referrals/referrer_thread.html",
        {
            "referral": referral,
            "thread": sorted([*messages, *notes], key=lambda entry: entry.created_at),
            "message_form": message_form or MessageForm(user=None, referral=referral),
        },
        status=status,
    )


@login_not_required
def referrer_follow(request, reference):
    """GET: the thread with access, else the code page. POST ``send``: email a code; POST
    ``code``: check it."""
    referral = referral_for_referrer(reference)
    if request.method == "GET":
        if referrer_has_access(request, referral):
            return _thread_page(request, referral)
        return _code_page(request, reference)
    if "send" in request.POST:
        result = referrer_code_send(request, referral)
        if result == SendResult.THROTTLED:
            return _code_page(request, reference, status=429, throttled=True)
        if result == SendResult.MAIL_FAILED:
            return _code_page(request, reference, status=503, mail_failed=True)
        return _code_page(request, reference, sent=True)
    form = ReferrerCodeForm(request.POST)
    if not form.is_valid():
        return _code_page(request, reference, form=form, status=400, sent=True)
    result = referrer_code_verify(request, referral, form.cleaned_data["code"])
    if result == CodeResult.THROTTLED:
        return _code_page(request, reference, status=429, throttled=True, sent=True)
    if result == CodeResult.WRONG:
        form.add_error(
            "code",
            "This code is not right, or it has expired or been used up. Check the latest "
            "email, or ask for a new code.",
        )
        return _code_page(request, reference, form=form, status=400, sent=True)
    return redirect("referrals:referrer_follow", reference)


def _referral_with_access_or_404(request, reference):
    referral = referral_for_referrer(reference)
    if not referrer_has_access(request, referral):
        raise Http404("No such referral.")
    return referral


def _message_request_max_bytes():
    return settings.REFERRAL_ATTACHMENTS_MAX_BYTES + 1024 * 1024


@login_not_required
@accepts_uploads(
    request_max_bytes=_message_request_max_bytes,
    file_max_bytes=lambda: settings.ATTACHMENT_MAX_BYTES,
)
@require_POST
def referrer_message_create(request, reference):
    referral = referral_for_referrer(reference)
    if not referrer_has_access(request, referral):
        # The access ended (expiry, sign-out): back to the code page, the message not sent.
        flash.error(request, "Your access ended. Ask for a new code; your message was not sent.")
        return redirect("referrals:referrer_follow", reference)
    too_large = getattr(request, "upload_too_large", None)
    form = MessageForm(
        request.POST, None if too_large else request.FILES, user=None, referral=referral
    )
    if too_large:
        form.is_valid()
        form.add_error("files", attachment_too_large_error(too_large))
    elif form.is_valid():
        try:
            services.message_post(
                referral=referral,
                author=None,
                text=form.cleaned_data["text"],
                files=form.cleaned_data["files"],
                composer_nonce=form.cleaned_data["composer"],
            )
        except services.MessageAlreadySent:
            flash.info(request, "This message was already sent; nothing was sent again.")
            return redirect(f"{reverse('referrals:referrer_follow', args=[reference])}#thread")
        except ValidationError as error:
            form.add_error(None, error)
        else:
            flash.success(request, "Message sent.")
            for change in form.text_changes:
                flash.info(request, f"In your message: {change}")
            return redirect(f"{reverse('referrals:referrer_follow', args=[reference])}#thread")
    return _thread_page(request, referral, message_form=form, status=400)


@login_not_required
def referrer_attachment_download(request, reference, attachment_id):
    referral = _referral_with_access_or_404(request, reference)
    attachment = referrer_attachment_get_or_404(referral, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("The file is no longer stored.") from missing
    referral_access_record(
        request,
        referral,
        action=Action.DOWNLOADED,
        record="attachment (referrer)",
        object_id=attachment.pk,
        detail=attachment.original_name,
        actor_username=_trail_name(referral),
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment_download_name(attachment.original_name, attachment.content_type),
        content_type=attachment.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_not_required
@require_POST
def referrer_sign_out(request, reference):
    referrer_access_end(request, referral_for_referrer(reference))
    flash.success(request, "You are signed out. To read the referral again, ask for a new code.")
    return redirect("referrals:referrer_follow", reference)
