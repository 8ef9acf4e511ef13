"""Support staff's HRM pages: sender approvals (decide, enter a UPI directly, revoke) and
OntarioMD's receiver list (upload, preview, confirm).

Every change goes through the services in ``hrm.services``, never through a model form, so the
admin applies the same rules and keeps the same log as everything else. The records themselves
are read-only here: approvals change only by a decision, receivers only by an import, and neither
is ever deleted, so the history stays whole.

HrmReport's admin (watching and re-driving deliveries) lives in ``admin_reports.py``.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from directory.professional_id import professional_id_display, professional_id_normalise
from hrm import admin_reports  # noqa: F401 — registers the delivery admin
from hrm.admin_console import RecordInline
from hrm.forms import (
    RECEIVER_LIST_MAX_BYTES,
    ReceiverImportConfirmForm,
    ReceiverListUploadForm,
    SenderApprovalEntryForm,
    SenderDecisionForm,
)
from hrm.models import HrmReceiver, ReceiverImport, SenderApproval, SenderApprovalLog
from hrm.receiver_list import REQUIRED_COLUMNS, ReceiverListError
from hrm.selectors.receivers import receiver_import_preview
from hrm.selectors.senders import sender_approval_counts
from hrm.services import receivers as receiver_services
from hrm.services import senders as sender_services
from security.uploads import accepts_uploads

# The preview lists this many receivers of each kind; the counts are always complete.
PREVIEW_ROWS = 200


def _professional_id_search(search_term: str) -> str:
    """People search for "CPSO 12345"; the database holds "D12345"."""
    try:
        return professional_id_normalise(search_term)
    except ValidationError:
        return ""


# --- Sender approvals ------------------------------------------------------------------------


class SenderApprovalLogInline(RecordInline):
    model = SenderApprovalLog
    fields = ["created_at", "action", "actor_name", "upi", "note"]
    readonly_fields = fields


@admin.register(SenderApproval)
class SenderApprovalAdmin(admin.ModelAdmin):
    # Six columns, the ID under the name and "in force" with the status: the table fits at
    # 1280 px beside the admin's navigation and the filters.
    list_display = [
        "clinician",
        "site",
        "upi",
        "status_shown",
        "requested",
        "decided",
    ]
    list_filter = ["status", "site"]
    search_fields = [
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "upi",
        "site__name",
    ]
    list_select_related = ["user", "site", "decided_by"]
    fields = [
        "user",
        "site",
        "upi",
        "status",
        "requested_at",
        "decided_at",
        "decided_by",
        "decision_note",
    ]
    readonly_fields = fields
    inlines = [SenderApprovalLogInline]
    date_hierarchy = "requested_at"

    # Compact dates, and who decided in the same cell: the whole table fits at 1280 px.
    @admin.display(description="Clinician", ordering="user__last_name")
    def clinician(self, approval):
        pid = professional_id_display(approval.user.professional_id) or "no Professional ID"
        return format_html('{}<br><span class="nowrap">{}</span>', approval.user, pid)

    @admin.display(description="Status", ordering="status")
    def status_shown(self, approval):
        if approval.status != SenderApproval.Status.APPROVED:
            return approval.get_status_display()
        if sender_approval_counts(approval):
            return "Approved, in force"
        return "Approved, not in force: the account's UPI changed"

    @admin.display(description="Requested", ordering="requested_at")
    def requested(self, approval):
        return timezone.localtime(approval.requested_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Decided", ordering="decided_at")
    def decided(self, approval):
        if approval.decided_at is None:
            return "—"
        when = timezone.localtime(approval.decided_at).strftime("%Y-%m-%d %H:%M")
        return f"{when} by {approval.decided_by}" if approval.decided_by else when

    # Decisions go through the services; the change page only shows the record.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _may_decide(self, request):
        return request.user.has_perm("hrm.change_senderapproval")

    def get_urls(self):
        return [
            path(
                "enter/",
                self.admin_site.admin_view(self.enter_view),
                name="hrm_senderapproval_enter",
            ),
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(require_POST(self.decide_view)),
                name="hrm_senderapproval_decide",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # "Add" means support entering a UPI they were given: the enter page.
        return redirect("admin:hrm_senderapproval_enter")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        approval = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if approval is not None and self._may_decide(request):
            Status = SenderApproval.Status
            extra_context["decisions"] = {
                Status.PENDING: ["approve", "reject"],
                Status.APPROVED: ["revoke"],
            }.get(approval.status, [])
            extra_context["decision_form"] = SenderDecisionForm()
            extra_context["account_upi"] = approval.user.hrm_upi
            extra_context["counts_now"] = sender_approval_counts(approval)
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id):
        if not self._may_decide(request):
            raise PermissionDenied
        approval = self.get_object(request, object_id)
        if approval is None:
            raise Http404("No such approval.")
        form = SenderDecisionForm(request.POST)
        back = redirect("admin:hrm_senderapproval_change", approval.pk)
        if not form.is_valid():
            messages.error(request, "Choose approve, reject or revoke.")
            return back
        decision = form.cleaned_data["decision"]
        action = {
            "approve": sender_services.sender_approval_approve,
            "reject": sender_services.sender_approval_reject,
            "revoke": sender_services.sender_approval_revoke,
        }[decision]
        try:
            action(approval=approval, actor=request.user, note=form.cleaned_data["note"])
        except ValidationError as error:
            for text in error.messages:
                messages.error(request, text)
            return back
        done = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[decision]
        messages.success(request, f"HRM sending for {approval.user} at {approval.site} {done}.")
        return redirect("admin:hrm_senderapproval_changelist")

    def enter_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SenderApprovalEntryForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                approval = sender_services.sender_approval_enter(
                    actor=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                for text in error.messages:
                    form.add_error(None, text)
            else:
                messages.success(
                    request,
                    f"UPI {approval.upi} approved for {approval.user} at {approval.site}.",
                )
                return redirect("admin:hrm_senderapproval_change", approval.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Enter a UPI directly",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/hrm/senderapproval/enter.html", context)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Records that change only through their own process (a decision, an import): support
    reads them here and never adds, edits or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SenderApprovalLog)
class SenderApprovalLogAdmin(ViewOnlyAdmin):
    list_display = ["created_at", "approval", "action", "actor_name", "upi", "note"]
    list_filter = ["action"]
    search_fields = [
        "actor_name",
        "upi",
        "approval__user__last_name",
        "approval__user__username",
        "approval__site__name",
    ]
    list_select_related = ["approval__user", "approval__site"]
    date_hierarchy = "created_at"


# --- The receiver list -----------------------------------------------------------------------


@admin.register(HrmReceiver)
class HrmReceiverAdmin(ViewOnlyAdmin):
    """OntarioMD's list: it changes only by importing their file."""

    list_display = [
        "professional_id_shown",
        "last_name",
        "first_name",
        "is_active",
        "deactivated_at",
        "updated_at",
    ]
    list_filter = ["is_active", "deactivated_at", "updated_at"]
    search_fields = ["last_name", "first_name", "=professional_id"]
    fields = [
        "professional_id",
        "first_name",
        "last_name",
        "is_active",
        "deactivated_at",
        "added_by_import",
        "updated_by_import",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="Professional ID", ordering="professional_id")
    def professional_id_shown(self, receiver):
        return professional_id_display(receiver.professional_id)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        stored = _professional_id_search(search_term)
        if stored:
            results = results | queryset.filter(professional_id=stored)
        return results, may_have_duplicates


@admin.register(ReceiverImport)
class ReceiverImportAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "file_name",
        "status",
        "uploaded_by_name",
        "applied_at",
        "added",
        "removed",
        "changed",
        "unchanged",
        "allowed_mass_removal",
        "preview_link",
    ]
    list_filter = ["status", "allowed_mass_removal"]
    search_fields = ["file_name", "=sha256", "uploaded_by_name"]
    fields = [
        "file_name",
        "sha256",
        "status",
        "uploaded_by_name",
        "created_at",
        "applied_at",
        "added",
        "removed",
        "changed",
        "unchanged",
        "allowed_mass_removal",
    ]
    readonly_fields = fields
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        # The stored file can be megabytes; lists and record pages never show it.
        return super().get_queryset(request).defer("content")

    @admin.display(description="")
    def preview_link(self, receiver_import):
        label = "Preview and confirm" if self._is_open(receiver_import) else "Details"
        url = reverse("admin:hrm_receiverimport_preview", args=[receiver_import.pk])
        return format_html('<a href="{}">{}</a>', url, label)

    @staticmethod
    def _is_open(receiver_import):
        return receiver_import.status == ReceiverImport.Status.PREVIEWED

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(
                    # A list up to the form's limit; the form itself says when a file is over.
                    accepts_uploads(
                        request_max_bytes=RECEIVER_LIST_MAX_BYTES + 1024 * 1024,
                        file_max_bytes=None,
                    )(self.upload_view)
                ),
                name="hrm_receiverimport_upload",
            ),
            path(
                "<int:import_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="hrm_receiverimport_preview",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:hrm_receiverimport_upload")

    def _context(self, request, title, **context):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "required_columns": REQUIRED_COLUMNS,
            **context,
        }

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReceiverListUploadForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                receiver_import = receiver_services.receiver_import_create(
                    content=upload.read(), file_name=upload.name, actor=request.user
                )
            except ReceiverListError as error:
                problems = error.problems
            else:
                return redirect("admin:hrm_receiverimport_preview", receiver_import.pk)
        context = self._context(
            request,
            "Import OntarioMD's receiver list",
            form=form,
            problems=problems,
            file_name=request.FILES["file"].name if problems else "",
        )
        return TemplateResponse(request, "admin/hrm/receiverimport/upload.html", context)

    def preview_view(self, request, import_id):
        # The preview lists clinicians and their Professional IDs: staff status is not enough.
        if not self.has_view_permission(request):
            raise PermissionDenied
        receiver_import = ReceiverImport.objects.filter(pk=import_id).first()
        if receiver_import is None:
            raise Http404("No such import.")
        title = f"Import of {receiver_import.file_name}"
        if not self._is_open(receiver_import):
            # Applied or discarded: show the record, never a fresh diff, which would compare
            # the file with the list it produced.
            if request.method == "POST":
                messages.error(
                    request,
                    f"This upload was already {receiver_import.get_status_display().lower()}.",
                )
            context = self._context(request, title, receiver_import=receiver_import)
            return TemplateResponse(request, "admin/hrm/receiverimport/preview.html", context)

        preview = receiver_import_preview(receiver_import)
        form = ReceiverImportConfirmForm(preview=preview)
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            decision = request.POST.get("decision")
            if decision == "discard":
                return self._discard(request, receiver_import)
            if decision == "apply":
                form = ReceiverImportConfirmForm(request.POST, preview=preview)
                if request.POST.get("fingerprint") != preview.fingerprint:
                    messages.warning(request, self.STALE_PREVIEW)
                    form = ReceiverImportConfirmForm(preview=preview)
                elif form.is_valid():
                    response, preview = self._apply(request, receiver_import, form, preview)
                    if response is not None:
                        return response
                    form = ReceiverImportConfirmForm(preview=preview)

        context = self._context(
            request,
            title,
            receiver_import=receiver_import,
            preview=preview,
            form=form,
            **_preview_rows(preview),
            may_decide=receiver_import.uploaded_by_id == request.user.pk,
        )
        return TemplateResponse(request, "admin/hrm/receiverimport/preview.html", context)

    STALE_PREVIEW = (
        "The receiver list changed since this preview (another import was applied). This is "
        "what applying the file would do now: check it and confirm again."
    )

    def _apply(self, request, receiver_import, form, preview):
        """Returns ``(response, None)`` when applied, else ``(None, the preview to show)``."""
        try:
            result = receiver_services.receiver_import_apply(
                receiver_import=receiver_import,
                actor=request.user,
                expected_fingerprint=form.cleaned_data["fingerprint"],
                allow_mass_removal=form.cleaned_data.get("allow_mass_removal", False),
            )
        except receiver_services.ReceiverListChangedError as error:
            messages.warning(request, self.STALE_PREVIEW)
            return None, error.preview
        except receiver_services.MassRemovalError as error:
            messages.error(request, str(error))
            return None, error.preview
        except (ValidationError, PermissionDenied) as error:
            for text in getattr(error, "messages", None) or [str(error)]:
                messages.error(request, text)
            return None, preview
        self.log_change(request, receiver_import, f"Applied: {result.summary}.")
        messages.success(request, f"Imported {receiver_import.file_name}: {result.summary}.")
        return redirect("admin:hrm_hrmreceiver_changelist"), None

    def _discard(self, request, receiver_import):
        try:
            receiver_services.receiver_import_discard(
                receiver_import=receiver_import, actor=request.user
            )
        except (ValidationError, PermissionDenied) as error:
            for text in getattr(error, "messages", None) or [str(error)]:
                messages.error(request, text)
            return redirect("admin:hrm_receiverimport_preview", receiver_import.pk)
        self.log_change(request, receiver_import, "Discarded the upload.")
        messages.success(request, f"Discarded {receiver_import.file_name}; nothing changed.")
        return redirect("admin:hrm_receiverimport_changelist")


def _preview_rows(preview) -> dict:
    """The first ``PREVIEW_ROWS`` of each kind, with IDs as people read them, and how many more
    there are."""
    diff = preview.diff
    shown = professional_id_display
    return {
        "added": [
            (row.line, shown(row.professional_id), row.first_name, row.last_name)
            for row in diff.added[:PREVIEW_ROWS]
        ],
        "removed": [
            (shown(gone.professional_id), gone.first_name, gone.last_name)
            for gone in diff.removed[:PREVIEW_ROWS]
        ],
        "changed": [
            (
                change.row.line,
                shown(change.professional_id),
                f"{change.previous_first_name} {change.previous_last_name}",
                f"{change.row.first_name} {change.row.last_name}",
            )
            for change in diff.changed[:PREVIEW_ROWS]
        ],
        "added_more": max(0, diff.added_count - PREVIEW_ROWS),
        "removed_more": max(0, diff.removed_count - PREVIEW_ROWS),
        "changed_more": max(0, diff.changed_count - PREVIEW_ROWS),
    }
