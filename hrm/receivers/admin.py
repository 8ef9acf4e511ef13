"""Support staff's receiver list: OntarioMD's file uploaded, previewed, confirmed.

Every change goes through ``hrm.receivers.services``: receivers change only by an import and are
never deleted, so the history stays whole.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from directory.professional_id import professional_id_display
from hrm.admin_bases import RecordAdmin, professional_id_search
from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers import services as receiver_services
from hrm.receivers.forms import (
    RECEIVER_LIST_MAX_BYTES,
    ReceiverImportConfirmForm,
    ReceiverListUploadForm,
)
from hrm.receivers.list_file import REQUIRED_COLUMNS, ReceiverListError
from hrm.receivers.selectors import receiver_import_preview
from security.admin_bases import BaseAdmin
from security.uploads import accepts_uploads

# The preview lists this many receivers of each kind; the counts are always complete.
PREVIEW_ROWS = 200


@admin.register(HrmReceiver)
class HrmReceiverAdmin(RecordAdmin):
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
        stored = professional_id_search(search_term)
        if stored:
            results = results | queryset.filter(professional_id=stored)
        return results, may_have_duplicates


@admin.register(ReceiverImport)
class ReceiverImportAdmin(BaseAdmin):
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
