"""Support staff's sender approvals: decide, enter a UPI directly, revoke.

Every change goes through ``hrm.senders.services``, never through a model form, so the admin
applies the same rules and keeps the same log as everything else. Approvals are read-only here:
they change only by a decision and are never deleted, so the history stays whole.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from directory.professional_id import professional_id_display
from hrm.admin_bases import RecordAdmin, RecordInline
from hrm.models import SenderApproval, SenderApprovalLog
from hrm.senders import services as sender_services
from hrm.senders.forms import SenderApprovalEntryForm, SenderDecisionForm
from hrm.senders.selectors import sender_approval_counts
from security.admin_bases import BaseAdmin


class SenderApprovalLogInline(RecordInline):
    model = SenderApprovalLog
    fields = ["created_at", "action", "actor_name", "upi", "note"]
    readonly_fields = fields


@admin.register(SenderApproval)
class SenderApprovalAdmin(BaseAdmin):
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


@admin.register(SenderApprovalLog)
class SenderApprovalLogAdmin(RecordAdmin):
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
