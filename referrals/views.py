from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.utils import flatatt
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.services import access_record
from directory.models import Listing
from directory.selectors import listings_of_user, user_site_id_set
from security.client_address import client_address
from security.search_text import search_text_refused
from security.throttle import throttle_exceeded
from security.uploads import accepts_uploads

from . import selectors, services
from .access import Action, referral_access_record
from .addendum import addendum_letter_name, addendum_letter_pdf
from .attachments import (
    attachment_download_name,
    attachment_too_large_error,
    upload_name_restore,
)
from .channels import message_recipients_preview
from .forms import (
    BookingForm,
    CannedResponseForm,
    CopyForm,
    ForwardForm,
    MessageForm,
    PublicReferralForm,
    ReferralForm,
    StatusConfirmForm,
    StatusForm,
)
from .models import Referral
from .review import review_marks_clear, review_thread_marks

INBOX_QUERY_SESSION_KEY = "inbox_query"


INBOX_FOLDERS = ("received", "sent", "review")
INBOX_SORTS = {"activity": "Last activity", "sent": "Date sent"}


def inbox(request):
    """The search is posted and kept in the session (then redirected to the plain folder URL):
    patient names never travel in a URL, where proxies and web servers would log them. The
    folder, status filter and sort carry no patient data and stay in the URL."""
    if request.method == "POST":
        folder = request.POST.get("folder")
        folder = folder if folder in INBOX_FOLDERS else "received"
        query = request.POST.get("q", "").strip()[:200]
        if refused := search_text_refused(query):
            flash.error(request, refused)
        else:
            request.session[INBOX_QUERY_SESSION_KEY] = query
        return redirect(f"{reverse('referrals:inbox')}?folder={folder}")
    folder = request.GET.get("folder")
    folder = folder if folder in INBOX_FOLDERS else "received"
    status = request.GET.get("status", "")
    status = status if status in Referral.Status.values else ""
    sort = request.GET.get("sort", "activity")
    sort = sort if sort in INBOX_SORTS else "activity"
    query = request.session.get(INBOX_QUERY_SESSION_KEY, "")
    if search_text_refused(query):  # kept before searches were checked
        query = request.session[INBOX_QUERY_SESSION_KEY] = ""
    referrals = list(
        selectors.referral_inbox(
            request.user, folder=folder, query=query, status=status, sort=sort
        )[:200]
    )
    if query:
        access_record(
            request,
            action=Action.SEARCHED,
            record=f"inbox ({folder})",
            detail=f"“{query}”: {len(referrals)} referral(s): "
            + ", ".join(str(referral.pk) for referral in referrals),
        )
    return render(
        request,
        "referrals/inbox.html",
        {
            "referrals": referrals,
            "folder": folder,
            "query": query,
            "status": status,
            "sort": sort,
            "statuses": Referral.Status.choices,
            "sorts": INBOX_SORTS.items(),
            "review_count": selectors.referrals_needing_review_count(request.user),
        },
    )


def referral_new(request):
    own_listings = listings_of_user(request.user)
    form = ReferralForm(
        request.POST or None,
        referrer_listings=own_listings,
        initial={"target_listing": request.GET.get("to")},
    )
    if request.method == "POST" and form.is_valid():
        referral = services.referral_create(referrer_user=request.user, **form.cleaned_data)
        flash.success(request, f"Referral sent to {referral.target_listing}.")
        return redirect("referrals:detail", referral.pk)
    return render(
        request, "referrals/referral_new.html", {"form": form, "has_listing": own_listings.exists()}
    )


def _public_referral_throttled(request, listing) -> bool:
    """Anyone may post this form: bound it per address and, against many addresses, per
    listing. Only submissions count."""
    limits = {
        "address": (client_address(request), settings.PUBLIC_REFERRAL_LIMIT_PER_ADDRESS),
        "listing": (str(listing.pk), settings.PUBLIC_REFERRAL_LIMIT_PER_LISTING),
    }
    window = settings.PUBLIC_REFERRAL_WINDOW_SECONDS
    return any(
        [
            throttle_exceeded(f"public-referral-{scope}", key, limit=limit, window_seconds=window)
            for scope, (key, limit) in limits.items()
        ]
    )


@login_not_required
def referral_public_new(request, listing_id):
    listing = get_object_or_404(Listing.objects.select_related("site"), pk=listing_id)
    if listing.requires_sign_in:
        return render(request, "referrals/sign_in_required.html", {"listing": listing}, status=403)
    if request.method == "POST" and _public_referral_throttled(request, listing):
        response = render(
            request, "referrals/public_throttled.html", {"listing": listing}, status=429
        )
        response["Retry-After"] = str(settings.PUBLIC_REFERRAL_WINDOW_SECONDS)
        return response
    form = PublicReferralForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        referral = services.referral_create(target_listing=listing, **form.cleaned_data)
        return render(
            request, "referrals/public_sent.html", {"listing": listing, "referral": referral}
        )
    return render(request, "referrals/public_new.html", {"form": form, "listing": listing})


def _detail_context(request, referral, **forms):
    delivery = selectors.referral_delivery_statuses(request.user, referral)
    for message in referral.messages.all():
        message.delivery_statuses = [
            channel.messages[message.pk] for channel in delivery if message.pk in channel.messages
        ]
        for attachment in message.attachments.all():
            attachment.download_name = attachment_download_name(
                attachment.original_name, attachment.content_type
            )
    is_receiver = referral.target_listing.site_id in user_site_id_set(request.user)
    stakeholders = selectors.referral_stakeholder_listings(referral)
    acting_listing = selectors.referral_acting_listing(request.user, referral)
    can_change_copies = selectors.referral_can_change_copies(request.user, referral)
    review_marks = review_thread_marks(request.user, referral)
    thread = selectors.referral_thread(referral)
    for entry in thread:
        kind = "event" if entry.is_status_note else "message"
        entry.review_reasons = review_marks.get((kind, entry.pk), [])
    next_statuses = (
        set(Referral.RECEIVER_TRANSITIONS.get(referral.status, ())) if is_receiver else set()
    )
    on_referrer_side = (
        acting_listing == referral.referrer_listing and referral.referrer_listing is not None
    )
    return {
        "thread": thread,
        "needs_review": bool(review_marks),
        "can_accept": Referral.Status.ACCEPTED in next_statuses,
        "can_complete": Referral.Status.COMPLETED in next_statuses,
        "can_decline": Referral.Status.DECLINED in next_statuses,
        "can_reopen": Referral.Status.NEW in next_statuses
        or (referral.status == Referral.Status.CANCELLED and on_referrer_side),
        "booking_form": (forms.get("booking_form") or _booking_form_initial(referral))
        if Referral.Status.BOOKED in next_statuses
        else None,
        "copy_listings": selectors.referral_copy_listings(referral),
        "copy_form": (forms.get("copy_form") or CopyForm(stakeholders=stakeholders))
        if can_change_copies
        else None,
        "can_change_copies": can_change_copies,
        "private_site": acting_listing.site if acting_listing else None,
        "canned_responses": list(selectors.canned_responses_of_user(request.user)),
        "referral": referral,
        "delivery_templates": [channel.template for channel in delivery if channel.template],
        "thread_attributes": flatatt(
            {name: value for channel in delivery for name, value in channel.attributes.items()}
        ),
        "stakeholders": stakeholders,
        "recipients": message_recipients_preview(
            referral=referral,
            author=request.user,
            author_listing=acting_listing,
            stakeholders=stakeholders,
        ),
        "message_form": forms.get("message_form")
        or MessageForm(user=request.user, referral=referral),
        "forward_form": (forms.get("forward_form") or ForwardForm(referral=referral))
        if is_receiver
        else None,
        "is_receiver": is_receiver,
        "can_cancel": referral.is_open and on_referrer_side,
    }


def _booking_form_initial(referral):
    if referral.appointment_at is None:
        return BookingForm()
    local = timezone.localtime(referral.appointment_at)
    return BookingForm(initial={"appointment_date": local.date(), "appointment_time": local.time()})


def referral_detail(request, referral_id):
    referral = selectors.referral_page_get(request.user, referral_id)
    referral_access_record(request, referral, action=Action.VIEWED, record="referral")
    return render(request, "referrals/referral_detail.html", _detail_context(request, referral))


def _message_request_max_bytes():
    # A referral's files together, plus room for the typed text and the form's own fields.
    return settings.REFERRAL_ATTACHMENTS_MAX_BYTES + 1024 * 1024


@accepts_uploads(
    request_max_bytes=_message_request_max_bytes,
    file_max_bytes=lambda: settings.ATTACHMENT_MAX_BYTES,
)
@require_POST
def message_create(request, referral_id):
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    files = request.FILES
    too_large = getattr(request, "upload_too_large", None)
    form = MessageForm(
        request.POST, None if too_large else files, user=request.user, referral=referral
    )
    # Browsers never refill a file input: a refused Send says which files to choose again.
    form.chosen_names = [upload_name_restore(upload.name) for upload in files.getlist("files")]
    if too_large:
        form.chosen_names.append(upload_name_restore(too_large))
        # The upload stopped at this file: nothing of the message is posted.
        form.is_valid()
        form.add_error("files", attachment_too_large_error(upload_name_restore(too_large)))
    elif form.is_valid():
        try:
            services.message_post(
                referral=referral,
                author=request.user,
                text=form.cleaned_data["text"],
                files=form.cleaned_data["files"],
                composer_nonce=form.cleaned_data["composer"],
                private=form.cleaned_data["private"],
            )
        except services.MessageAlreadySent as already:
            sent = already.message
            at = f"{timezone.localtime(sent.created_at):%H:%M}"
            if _same_message(sent, form.cleaned_data["text"], form.cleaned_data["files"]):
                flash.info(
                    request,
                    f"This message was already sent, at {at}; it is shown below. Nothing was "
                    "sent again.",
                )
                return redirect(f"{referral.get_absolute_url()}#message-{sent.pk}")
            # Changed after Back: the new words are kept, never dropped, and go only on purpose.
            form.composer_renew()
            form.add_error(
                None,
                ValidationError(
                    f"The message this page was composing was already sent, at {at}. What you "
                    "wrote since is kept below: press Send to post it as a new message.",
                    code="already_sent",
                ),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            flash.success(
                request, "Private note saved." if form.cleaned_data["private"] else "Message sent."
            )
            for change in form.text_changes:
                flash.info(request, f"In your message: {change}")
            return redirect(f"{referral.get_absolute_url()}#thread")
    referral = selectors.referral_page_get(request.user, referral_id)
    referral_access_record(request, referral, action=Action.VIEWED, record="referral")
    return render(
        request,
        "referrals/referral_detail.html",
        _detail_context(request, referral, message_form=form),
        status=400,
    )


def _same_message(sent, text: str, files) -> bool:
    attachments = sorted((a.original_name, a.size) for a in sent.attachments.all())
    return sent.text == text and attachments == sorted((f.name[:255], f.size) for f in files)


@require_POST
def referral_forward(request, referral_id):
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    form = ForwardForm(request.POST, referral=referral)
    if form.is_valid():
        try:
            services.referral_forward(
                referral=referral, to_listing=form.cleaned_data["to_listing"], actor=request.user
            )
        except (ValidationError, PermissionDenied) as error:
            flash.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            flash.success(request, f"Referral forwarded to {referral.target_listing}.")
    else:
        flash.error(request, "Choose a listing to forward to.")
    return redirect(referral.get_absolute_url())


@require_POST
def referral_status(request, referral_id):
    """Accept, book (or change the booking), complete, re-open. Declining and cancelling are
    confirmed on a page of their own (``referral_status_confirm``)."""
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    form = StatusForm(request.POST)
    if not form.is_valid() or form.cleaned_data["status"] in CONFIRMED_STATUSES:
        flash.error(request, "Choose what to do with the referral.")
        return redirect(referral.get_absolute_url())
    status = form.cleaned_data["status"]
    appointment_at = None
    if status == Referral.Status.BOOKED:
        booking_form = BookingForm(request.POST)
        if not booking_form.is_valid():
            referral = selectors.referral_page_get(request.user, referral_id)
            referral_access_record(request, referral, action=Action.VIEWED, record="referral")
            context = _detail_context(request, referral, booking_form=booking_form)
            return render(request, "referrals/referral_detail.html", context, status=400)
        appointment_at = booking_form.appointment_at()
    try:
        services.referral_status_change(
            referral=referral,
            status=status,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            appointment_at=appointment_at,
        )
    except (ValidationError, PermissionDenied) as error:
        flash.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        flash.success(request, _status_done_text(referral))
    return redirect(referral.get_absolute_url())


CONFIRMED_STATUSES = {
    Referral.Status.DECLINED: ("Decline", "Decline referral"),
    Referral.Status.CANCELLED: ("Cancel", "Cancel referral"),
}


def _status_done_text(referral) -> str:
    if referral.status == Referral.Status.BOOKED:
        when = timezone.localtime(referral.appointment_at).strftime("%Y-%m-%d %H:%M")
        return f"Referral is now booked for {when}."
    return f"Referral is now {referral.get_status_display().lower()}."


def referral_status_confirm(request, referral_id, status):
    """Decline (with its reason) or cancel, after a confirmation page."""
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    if status not in CONFIRMED_STATUSES:
        raise Http404("No such action.")
    declining = status == Referral.Status.DECLINED
    form = StatusConfirmForm(request.POST or None, reason_required=declining)
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_status_change(
                referral=referral,
                status=status,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except PermissionDenied as error:
            flash.error(request, str(error))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            flash.success(request, _status_done_text(referral))
            return redirect(f"{referral.get_absolute_url()}#thread")
    verb, button = CONFIRMED_STATUSES[status]
    return render(
        request,
        "referrals/status_confirm.html",
        {"referral": referral, "form": form, "verb": verb, "button": button, "status": status},
        status=400 if form.errors else 200,
    )


@require_POST
def referral_reviewed(request, referral_id):
    """Mark as reviewed: one message (``message``) or the whole referral."""
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    message = event = None
    if request.POST.get("message", "").isdigit():
        message = get_object_or_404(referral.messages, pk=request.POST["message"])
    elif request.POST.get("event", "").isdigit():
        event = get_object_or_404(referral.events, pk=request.POST["event"])
    review_marks_clear(user=request.user, referral=referral, message=message, event=event)
    flash.success(request, "Marked as reviewed.")
    if request.POST.get("next") == "inbox":
        return redirect(f"{reverse('referrals:inbox')}?folder=review")
    anchor = f"#message-{message.pk}" if message else f"#event-{event.pk}" if event else ""
    return redirect(f"{referral.get_absolute_url()}{anchor}")


def attachment_download(request, referral_id, attachment_id):
    attachment = selectors.attachment_get_for_user_or_404(request.user, referral_id, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("The file is no longer stored.") from missing
    referral_access_record(
        request,
        attachment.message.referral,
        action=Action.DOWNLOADED,
        record="attachment",
        object_id=attachment.pk,
        detail=attachment.original_name,
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment_download_name(attachment.original_name, attachment.content_type),
        content_type=attachment.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


def message_addendum(request, referral_id, message_id):
    """The addendum letter of one message, as a PDF: any stakeholder who sees the message."""
    message = selectors.message_get_for_user_or_404(request.user, referral_id, message_id)
    if not selectors.message_content_visible(request.user, message):
        raise Http404("No such message.")  # withdrawn: its content is its author's alone
    referral_access_record(
        request,
        message.referral,
        action=Action.DOWNLOADED,
        record="addendum letter",
        object_id=message.pk,
    )
    response = HttpResponse(addendum_letter_pdf(message), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{addendum_letter_name(message)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def referral_copy_add(request, referral_id):
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    form = CopyForm(request.POST, stakeholders=selectors.referral_stakeholder_listings(referral))
    if form.is_valid():
        try:
            services.referral_copy_add(
                referral=referral, listing=form.cleaned_data["listing"], actor=request.user
            )
        except (ValidationError, PermissionDenied) as error:
            flash.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            listing = form.cleaned_data["listing"]
            flash.success(request, f"Status updates are now copied to {listing}.")
    else:
        flash.error(request, "Choose a listing that is not a stakeholder yet.")
    return redirect(referral.get_absolute_url())


@require_POST
def referral_copy_remove(request, referral_id, listing_id):
    referral = selectors.referral_get_for_user_or_404(request.user, referral_id)
    listing = get_object_or_404(Listing.objects.select_related("site"), pk=listing_id)
    try:
        services.referral_copy_remove(referral=referral, listing=listing, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        flash.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        flash.success(request, f"Status updates are no longer copied to {listing}.")
    # Removing one's own site's copy can end one's access: go where one still may.
    if selectors.referrals_visible_to(request.user).filter(pk=referral.pk).exists():
        return redirect(referral.get_absolute_url())
    return redirect("referrals:inbox")


@require_POST
def canned_response_insert(request, referral_id):
    """Without a script, inserting a canned response is a round trip: the page comes back with
    the composer's text and the chosen response after it."""
    referral = selectors.referral_page_get(request.user, referral_id)
    canned = get_object_or_404(
        selectors.canned_responses_of_user(request.user), pk=request.POST.get("canned_response")
    )
    text = request.POST.get("text", "")
    text = f"{text.rstrip()}\n{canned.text}" if text.strip() else canned.text
    form = MessageForm(
        initial={"text": text, "private": bool(request.POST.get("private"))},
        user=request.user,
        referral=referral,
    )
    referral_access_record(request, referral, action=Action.VIEWED, record="referral")
    return render(
        request,
        "referrals/referral_detail.html",
        _detail_context(request, referral, message_form=form),
    )


def canned_responses(request):
    """The canned responses of the user's sites: list, create, change and delete."""
    sites = list(request.user.sites.order_by("name"))
    editing = None
    if request.GET.get("edit") or request.POST.get("canned_id"):
        editing = get_object_or_404(
            selectors.canned_responses_of_user(request.user),
            pk=request.GET.get("edit") or request.POST.get("canned_id"),
        )
    if request.method == "POST" and request.POST.get("delete") and editing:
        services.canned_response_delete(canned=editing, actor=request.user)
        flash.success(request, f"Canned response “{editing.name}” deleted.")
        return redirect("referrals:canned_responses")
    form = CannedResponseForm(
        request.POST or None,
        initial={"name": editing.name, "text": editing.text} if editing else None,
    )
    if request.method == "POST" and form.is_valid():
        site = (
            editing.site
            if editing
            else get_object_or_404(request.user.sites, pk=request.POST.get("site"))
        )
        try:
            canned = services.canned_response_save(
                site=site,
                name=form.cleaned_data["name"],
                text=form.cleaned_data["text"],
                actor=request.user,
                canned=editing,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            flash.success(request, f"Canned response “{canned.name}” saved.")
            return redirect("referrals:canned_responses")
    return render(
        request,
        "referrals/canned_responses.html",
        {
            "sites": sites,
            "form": form,
            "editing": editing,
            "responses": selectors.canned_responses_of_user(request.user).order_by(
                "site__name", "name"
            ),
        },
        status=400 if request.method == "POST" else 200,
    )
