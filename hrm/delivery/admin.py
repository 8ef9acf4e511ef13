"""Support's view of HRM delivery: every report with its state, and the actions to re-drive."""

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.defaultfilters import truncatechars
from django.utils.functional import cached_property

from directory.professional_id import professional_id_display
from hrm.admin_bases import RecordAdmin, professional_id_search
from hrm.delivery.console import HrmAttemptInline, bulk_resend_redirect
from hrm.delivery.services.queue import reports_enqueue_now
from hrm.models import HrmMessageDecision, HrmReport
from referrals.access import Action, referral_access_record
from security.admin_bases import BaseAdmin


class BoundedCountPaginator(Paginator):
    """Counts the matching reports up to ``BOUND``: a full count of a million rows takes a
    second, and nobody pages that far (they search or filter)."""

    BOUND = 10_000

    @cached_property
    def count(self):
        return self.object_list.order_by()[: self.BOUND].count()


@admin.register(HrmReport)
class HrmReportAdmin(BaseAdmin):
    # Newest first, along the primary key; the list stays fast at a million reports: a bounded
    # count, no full count, no date hierarchy, and a search that looks up exact values along
    # indexes (get_search_results).
    ordering = ["-id"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_display = [
        "transaction_id",
        "referral_link",
        "part",
        "recipient_name",
        "recipient_id_shown",
        "status",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "error",
    ]
    list_filter = ["status", "recipient__site"]
    search_fields = ["transaction_id"]  # shows the search box; get_search_results does the work
    search_help_text = "A Transaction ID, a Professional ID (CPSO 12345) or a referral number."
    list_select_related = ["recipient", "attachment", "message"]
    exclude = ["xml"]
    readonly_fields = [f.name for f in HrmReport._meta.fields if f.name != "xml"] + ["file_size"]
    actions = ["resend_failed", "enqueue_queued_now"]
    inlines = [HrmAttemptInline]

    def get_queryset(self, request):
        # The report bytes can be megabytes per row; the list never needs them.
        return super().get_queryset(request).defer("xml")

    def get_search_results(self, request, queryset, search_term):
        # Exact values only, each along an index: a substring search through the join reads
        # every row (5 s at a million reports).
        term = search_term.strip()
        if not term:
            return queryset, False
        wanted = Q(transaction_id=term)
        professional_id = professional_id_search(term)
        if professional_id:
            wanted |= Q(deliver_to_user_id=professional_id)
        if term.lstrip("#").isdigit():
            wanted |= Q(message__referral_id=int(term.lstrip("#")))
        return queryset.filter(wanted), False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Referral", ordering="message__referral_id")
    def referral_link(self, report):
        return f"#{report.message.referral_id}, message {report.message_id}"

    @admin.display(description="Professional ID", ordering="deliver_to_user_id")
    def recipient_id_shown(self, report):
        return professional_id_display(report.deliver_to_user_id)

    @admin.display(description="Part")
    def part(self, report):
        return report.part_label

    @admin.display(description="Last error")
    def error(self, report):
        return truncatechars(report.last_error, 80)

    @admin.display(description="File size (bytes)")
    def file_size(self, report):
        return len(HrmReport.objects.values_list("xml", flat=True).get(pk=report.pk))

    # Re-driving a delivery is a change to it: staff status alone is not enough, the user needs
    # "Can change HRM report" (support's view-only role watches, it does not re-drive).
    def has_redrive_permission(self, request):
        return request.user.has_perm("hrm.change_hrmreport")

    def has_change_permission(self, request, obj=None):
        # A saved change form would write a stale status over the worker's: the row changes
        # only through delivery and the actions below.
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        if report is not None and request.method == "GET":
            referral_access_record(
                request,
                report.message.referral,
                action=Action.VIEWED,
                record="HRM report (admin)",
                object_id=report.pk,
                detail=report.transaction_id,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description="Re-send the selected failed reports (same Transaction ID)",
        permissions=["redrive"],
    )
    def resend_failed(self, request, queryset):
        # To the confirmation page: how many, a reason, batches; the author's approval and the
        # access trail are checked there (hrm/delivery/console.py, services/bulk_resend.py).
        return bulk_resend_redirect(queryset)

    @admin.action(
        description="Hand the selected queued reports to the workers now", permissions=["redrive"]
    )
    def enqueue_queued_now(self, request, queryset):
        ids = reports_enqueue_now(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Enqueued {len(ids)} queued report(s).", messages.SUCCESS)


@admin.register(HrmMessageDecision)
class HrmMessageDecisionAdmin(RecordAdmin):
    """Decided once, when the message was posted: nobody rewrites or removes it."""

    list_display = ["message", "attempted", "reasons_text", "created_at"]
    list_filter = ["attempted"]
    search_fields = ["=message__id", "=message__referral__id"]

    @admin.display(description="Why not")
    def reasons_text(self, decision):
        return " ".join(decision.reasons)
