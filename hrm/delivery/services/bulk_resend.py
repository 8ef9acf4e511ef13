"""Bulk re-send for support: requeue many failed reports at once, safely.

Only failed reports are requeued (sent ones and ones still on their way are counted and left
alone); each keeps its file and its Transaction ID, so an EMR that has a report already does
not file it twice; they go out in batches of ``HRM_BULK_RESEND_BATCH_SIZE``, one batch every
``HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS``, to spare HRM's server; and each bulk re-send is
recorded with who, why, what was selected and what was requeued. A report whose author can no
longer send through HRM (an approval revoked since) is left alone, as their own re-send would
be."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hrm.delivery.services.queue import reports_publish, resend_events_record
from hrm.models import HrmBulkResend, HrmReport, HrmReportSelection
from hrm.senders.selectors import message_resend_status

Status = HrmReport.Status


@dataclass(frozen=True)
class ResendPlan:
    """What a bulk re-send of a selection would do: shown on the confirmation page."""

    selected: int
    failed_ids: tuple[int, ...]
    sent: int
    pending: int
    # Failed, but their author can no longer send through HRM (an approval revoked since):
    # (Transaction ID, why), left alone as a clinician's re-send would be.
    blocked: tuple[tuple[str, str], ...] = ()

    @property
    def batches(self) -> int:
        size = settings.HRM_BULK_RESEND_BATCH_SIZE
        return -(-len(self.failed_ids) // size)

    @property
    def minutes(self) -> float:
        return max(self.batches - 1, 0) * settings.HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS / 60


def _blocked(failed_ids) -> dict[int, tuple[str, str]]:
    """``{report id: (Transaction ID, why)}`` for failed reports whose author may not re-send."""
    reports = HrmReport.objects.filter(pk__in=failed_ids).select_related(
        "message__author", "message__author_listing__site"
    )
    verdicts: dict[int, str] = {}
    blocked = {}
    for report in reports.defer("xml").order_by("pk"):
        if report.message_id not in verdicts:
            status = message_resend_status(report.message)
            verdicts[report.message_id] = " ".join(status.missing) if status else ""
        if verdicts[report.message_id]:
            blocked[report.pk] = (report.transaction_id, verdicts[report.message_id])
    return blocked


def bulk_resend_plan(reports) -> ResendPlan:
    """``reports``: a queryset of the selected reports."""
    rows = list(reports.order_by("pk").values_list("pk", "status"))
    failed = [pk for pk, status in rows if status == Status.FAILED]
    blocked = _blocked(failed)
    return ResendPlan(
        selected=len(rows),
        failed_ids=tuple(pk for pk in failed if pk not in blocked),
        sent=sum(status == Status.SENT for _, status in rows),
        pending=sum(status in (Status.QUEUED, Status.SENDING) for _, status in rows),
        blocked=tuple(blocked[pk] for pk in failed if pk in blocked),
    )


def report_selection_create(report_ids, *, description: str) -> HrmReportSelection:
    """Keep the chosen reports under a short key, for the re-send page's address."""
    return HrmReportSelection.objects.create(
        report_ids=sorted({int(pk) for pk in report_ids}), description=description[:300]
    )


def bulk_resend(*, report_ids, actor, reason: str, selection: str) -> HrmBulkResend:
    """Requeue the failed reports among ``report_ids`` in batches; the first goes now."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why these reports are re-sent: it is kept with the re-send.")
    report_ids = sorted(set(int(pk) for pk in report_ids))
    size = settings.HRM_BULK_RESEND_BATCH_SIZE
    interval = settings.HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            HrmReport.objects.select_for_update()
            .filter(pk__in=report_ids)
            .order_by("pk")
            .values_list("pk", "status")
        )
        failed = [pk for pk, status in rows if status == Status.FAILED]
        blocked = _blocked(failed)
        failed = [pk for pk in failed if pk not in blocked]
        batches = [failed[start : start + size] for start in range(0, len(failed), size)]
        for number, batch in enumerate(batches):
            due = now + timedelta(seconds=number * interval)
            HrmReport.objects.filter(pk__in=batch, status=Status.FAILED).update(
                status=Status.QUEUED,
                next_attempt_at=due,
                delivery_started_at=due,
                resent_at=now,
                resent_by=actor,
                last_error="",
                attempts=0,
            )
        record = HrmBulkResend.objects.create(
            actor=actor,
            actor_name=actor.get_full_name() or actor.get_username(),
            reason=reason,
            selection=selection[:300],
            selected=len(rows),
            requeued=len(failed),
            skipped_sent=sum(status == Status.SENT for _, status in rows),
            skipped_pending=sum(status in (Status.QUEUED, Status.SENDING) for _, status in rows),
            skipped_blocked=len(blocked),
            batches=len(batches),
            report_ids=failed,
        )
        resend_events_record(failed, actor)
        transaction.on_commit(lambda: _publish(batches, interval))
    return record


def _publish(batches: list[list[int]], interval: float) -> None:
    """Hand each batch to the workers when it is due. Batches due later than a Celery countdown
    should wait are left to the beat re-drive, which finds every queued row once it is due."""
    for number, batch in enumerate(batches):
        countdown = number * interval
        if countdown > settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS:
            break
        if not reports_publish(batch, countdown=countdown):
            return  # the broker is down: the rows are queued, the re-drive has them
