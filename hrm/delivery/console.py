"""Support's console in the admin: the delivery dashboard, bulk re-send with its confirmation
page, and every attempt on the report's page."""

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from hrm.admin_bases import RecordAdmin, RecordInline
from hrm.delivery.errors import error_classify
from hrm.delivery.selectors.dashboard import dashboard_chart, hrm_dashboard
from hrm.delivery.services.bulk_resend import (
    bulk_resend,
    bulk_resend_plan,
    report_selection_create,
)
from hrm.models import (
    ErrorClass,
    HrmAlert,
    HrmAlertReport,
    HrmAttempt,
    HrmBulkResend,
    HrmHealth,
    HrmReport,
    HrmReportSelection,
)
from referrals.access import Action, referral_access_record
from security.admin_bases import BaseAdmin
from security.search_text import search_text_refused

Status = HrmReport.Status
MAX_IDS = 5000


def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def landing_view(request):
    """Where staff land after signing in: the dashboard, for those who may see it."""
    if request.user.has_perm("hrm.view_hrmreport"):
        return redirect("hrm_console:dashboard")
    return redirect("admin:index")


def dashboard_view(request):
    _require(request, "hrm.view_hrmreport")
    figures = hrm_dashboard()
    context = {
        **admin.site.each_context(request),
        "title": "HRM delivery dashboard",
        "figures": figures,
        "chart": dashboard_chart(figures.days),
        "error_classes": ErrorClass.choices,
        "recent_bulk": HrmBulkResend.objects.all()[:5],
        "can_resend": request.user.has_perm("hrm.change_hrmreport"),
    }
    return TemplateResponse(request, "admin/hrm/dashboard.html", context)


# ?hours= looks back at most this far (a year): bounded, so no date before year 1 is asked for.
HOURS_MAX = 24 * 366


def _selection(params) -> tuple[object, str]:
    """The reports a re-send link or form selects, and how, in words for the record. Raises
    ``ValidationError`` with what to fix when the address cannot say which reports."""
    reports = HrmReport.objects.all()
    key = params.get("selection", "").strip()
    if key:
        chosen = HrmReportSelection.objects.filter(key=key).first()
        if chosen is None:
            raise ValidationError(
                "This selection is not kept here: select the reports again from the list."
            )
        return reports.filter(pk__in=chosen.report_ids), chosen.description
    if ids := params.get("ids", "").strip():
        # A confirmation page opened before selections were kept posts its ids in the body.
        chosen = _ids(ids)
        return reports.filter(pk__in=chosen), f"{len(chosen)} selected report(s)"
    words = ["failed reports"]
    reports = reports.filter(status=Status.FAILED)
    error_class = params.get("error_class", "")
    if error_class in ErrorClass.values:
        # The class is read from the error's text: narrow in SQL, then in Python.
        matching = [
            pk
            for pk, error in reports.values_list("pk", "last_error")
            if error_classify(error) == error_class
        ]
        reports = reports.filter(pk__in=matching)
        words.append(f"with error “{ErrorClass(error_class).label}”")
    recipient = params.get("recipient", "").strip()
    if refused := search_text_refused(recipient):
        raise ValidationError(refused)
    if recipient:
        reports = reports.filter(deliver_to_user_id=recipient)
        words.append(f"to {recipient}")
    hours = params.get("hours", "").strip()
    if hours:
        if not (hours.isascii() and hours.isdigit() and 1 <= int(hours) <= HOURS_MAX):
            raise ValidationError(
                f"Hours must be a whole number from 1 to {HOURS_MAX:,} (a year); "
                f"“{hours[:20]}” is not."
            )
        reports = reports.filter(last_attempt_at__gte=timezone.now() - timedelta(hours=int(hours)))
        words.append(f"last tried in the past {hours} h")
    return reports, " ".join(words)


def _ids(text: str) -> list[int]:
    parts = (part.strip() for part in text.split(","))
    return [int(part) for part in parts if part.isascii() and part.isdigit()][:MAX_IDS]


def _legacy_ids_redirect(ids: str):
    """Links emailed before selections were kept carry ``?ids=``: kept as a selection."""
    chosen = _ids(ids)
    selection = report_selection_create(chosen, description=f"{len(chosen)} selected report(s)")
    return redirect(f"{reverse('hrm_console:resend')}?selection={selection.key}")


def bulk_resend_view(request):
    _require(request, "hrm.change_hrmreport")
    if request.method == "GET" and request.GET.get("ids", "").strip():
        return _legacy_ids_redirect(request.GET["ids"].strip())
    params = request.POST if request.method == "POST" else request.GET
    error = problem = ""
    try:
        reports, selection = _selection(params)
    except ValidationError as invalid:
        problem = " ".join(invalid.messages)
        reports, selection = HrmReport.objects.none(), "nothing"
    plan = bulk_resend_plan(reports)
    if request.method == "POST" and "confirm" in request.POST and not problem:
        try:
            record = bulk_resend(
                # All of the selection: the service decides again under lock what is failed.
                report_ids=list(reports.values_list("pk", flat=True)),
                actor=request.user,
                reason=request.POST.get("reason", ""),
                selection=selection,
            )
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            for report in (
                HrmReport.objects.filter(pk__in=record.report_ids)
                .select_related("message__referral")
                .defer("xml")
            ):
                referral_access_record(
                    request,
                    report.message.referral,
                    action=Action.RESENT,
                    record="HRM report (admin bulk re-send)",
                    object_id=report.pk,
                    detail=report.transaction_id,
                )
            messages.success(
                request,
                f"Re-sending {record.requeued} report(s) in {record.batches} batch(es); "
                f"{record.skipped_sent} already sent and {record.skipped_pending} still on "
                "their way were left alone.",
            )
            return HttpResponseRedirect(
                reverse("admin:hrm_hrmreport_changelist") + "?status__exact=queued"
            )
    context = {
        **admin.site.each_context(request),
        "title": "Re-send HRM reports",
        "plan": plan,
        "selection": selection,
        "params": {
            k: params.get(k, "") for k in ("selection", "error_class", "recipient", "hours")
        },
        "reason": params.get("reason", ""),
        "error": error,
        "problem": problem,
    }
    return TemplateResponse(
        request, "admin/hrm/resend_confirm.html", context, status=400 if problem else 200
    )


def bulk_resend_redirect(queryset):
    """The admin list's action: to the confirmation page for the selected reports, kept as a
    selection (any number of them; their ids never go in the address)."""
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    selection = report_selection_create(ids, description=f"{len(ids)} selected report(s)")
    return redirect(f"{reverse('hrm_console:resend')}?selection={selection.key}")


class HrmAttemptInline(RecordInline):
    model = HrmAttempt
    verbose_name_plural = "Attempts, in order"
    fields = [
        "number",
        "resend",
        "started_at",
        "duration_ms",
        "worker",
        "outcome",
        "error_class",
        "error",
    ]
    readonly_fields = fields
    ordering = ["finished_at", "id"]


@admin.register(HrmBulkResend)
class HrmBulkResendAdmin(BaseAdmin):
    list_display = [
        "created_at",
        "actor_name",
        "reason",
        "selection",
        "requeued",
        "skipped_sent",
        "skipped_pending",
        "batches",
    ]
    search_fields = ["actor_name", "reason"]
    readonly_fields = [f.name for f in HrmBulkResend._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HrmReportSelection)
class HrmReportSelectionAdmin(RecordAdmin):
    """Selections kept for the re-send page (from the list's action and the alerts' links)."""

    list_display = ["created_at", "description", "report_count"]
    date_hierarchy = "created_at"

    @admin.display(description="Reports")
    def report_count(self, selection):
        return len(selection.report_ids)


@admin.register(HrmAlert)
class HrmAlertAdmin(BaseAdmin):
    list_display = ["created_at", "kind", "state", "subject", "recipients_text"]
    list_filter = ["kind", "state"]
    search_fields = ["subject", "=message__referral__id", "items__report__transaction_id"]
    readonly_fields = [f.name for f in HrmAlert._meta.fields]

    @admin.display(description="Emailed to")
    def recipients_text(self, alert):
        return ", ".join(alert.recipients)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HrmAttempt)
class HrmAttemptAdmin(RecordAdmin):
    list_display = [
        "finished_at",
        "report",
        "number",
        "outcome",
        "error_class",
        "duration_ms",
        "worker",
    ]
    list_filter = ["outcome", "error_class", "resend"]
    search_fields = ["report__transaction_id", "error", "worker"]
    list_select_related = ["report"]
    date_hierarchy = "finished_at"


@admin.register(HrmAlertReport)
class HrmAlertReportAdmin(RecordAdmin):
    list_display = ["alert", "report", "delivery_started_at"]
    search_fields = ["report__transaction_id"]
    list_select_related = ["alert", "report"]


@admin.register(HrmHealth)
class HrmHealthAdmin(RecordAdmin):
    list_display = ["state", "consecutive_failures", "down_since", "paused_until", "last_error"]
