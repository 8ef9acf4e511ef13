"""The author's Amend and Delete of their own message (issue 20). Every view starts with
``message_get_for_author_or_404``: a stranger gets a 404, another stakeholder a 403."""

from django.conf import settings
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from security.uploads import accepts_uploads

from . import selectors, services
from .access import Action, referral_access_record
from .attachments import attachment_too_large_error, upload_name_restore
from .forms import MessageAmendForm, MessageWithdrawForm


def _message_page(request, referral_id, message_id):
    message = selectors.message_get_for_author_or_404(request.user, referral_id, message_id)
    referral_access_record(
        request, message.referral, action=Action.VIEWED, record="message", object_id=message.pk
    )
    return message


def _refused(request, error) -> None:
    flash.error(request, " ".join(getattr(error, "messages", [str(error)])))


def _amend_max_bytes():
    return settings.REFERRAL_ATTACHMENTS_MAX_BYTES + 1024 * 1024


@accepts_uploads(
    request_max_bytes=_amend_max_bytes, file_max_bytes=lambda: settings.ATTACHMENT_MAX_BYTES
)
def message_amend(request, referral_id, message_id):
    message = _message_page(request, referral_id, message_id)
    thread_url = f"{message.referral.get_absolute_url()}#message-{message.pk}"
    if message.is_withdrawn or hasattr_next_version(message):
        _refused(request, "This message can no longer be amended: it was amended or deleted.")
        return redirect(thread_url)
    too_large = getattr(request, "upload_too_large", None)
    if request.method != "POST":
        form = MessageAmendForm(message=message)
    else:
        form = MessageAmendForm(request.POST, None if too_large else request.FILES, message=message)
        if too_large:
            form.is_valid()
            form.add_error("files", attachment_too_large_error(upload_name_restore(too_large)))
        elif form.is_valid():
            try:
                new = services.message_amend(
                    message=message,
                    author=request.user,
                    text=form.cleaned_data["text"],
                    keep_attachment_ids=[a.pk for a in form.cleaned_data["keep"]],
                    files=form.cleaned_data["files"],
                    composer_nonce=form.cleaned_data["composer"],
                )
            except services.MessageAlreadySent as already:
                at = f"{timezone.localtime(already.message.created_at):%H:%M}"
                flash.info(request, f"This amendment was already sent, at {at}.")
                return redirect(
                    f"{message.referral.get_absolute_url()}#message-{already.message.pk}"
                )
            except PermissionDenied:
                raise
            except ValidationError as error:
                form.add_error(None, error)
            else:
                flash.success(request, "Message amended.")
                return redirect(f"{message.referral.get_absolute_url()}#message-{new.pk}")
    return render(
        request,
        "referrals/message_amend.html",
        {"message": message, "referral": message.referral, "form": form},
        status=400 if form.is_bound else 200,
    )


def hasattr_next_version(message) -> bool:
    return type(message).objects.filter(previous_version=message).exists()


def message_delete(request, referral_id, message_id):
    message = _message_page(request, referral_id, message_id)
    thread_url = f"{message.referral.get_absolute_url()}#message-{message.pk}"
    if message.is_withdrawn or hasattr_next_version(message):
        _refused(request, "This message can no longer be deleted: it was amended or deleted.")
        return redirect(thread_url)
    form = MessageWithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.message_withdraw(
                message=message, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            flash.success(request, "Message deleted: the thread shows it was withdrawn.")
            return redirect(thread_url)
    return render(
        request,
        "referrals/message_delete.html",
        {"message": message, "referral": message.referral, "form": form},
        status=400 if form.is_bound else 200,
    )


def message_withdrawn_content(request, referral_id, message_id):
    """The author's look at what they withdrew (support looks in the admin); on the trail."""
    message = selectors.message_get_for_author_or_404(request.user, referral_id, message_id)
    referral_access_record(
        request,
        message.referral,
        action=Action.VIEWED,
        record="withdrawn message",
        object_id=message.pk,
    )
    return render(
        request,
        "referrals/message_withdrawn.html",
        {"message": message, "referral": message.referral},
    )
