"""Handing reports to the workers. The rows are the truth: a broker message carries only ids, is
published once the transaction that queued the rows commits, and if the broker is down the rows
stay queued and the beat re-drive hands them over later.

The task is named, not imported: the tasks call the services, so the services must not import
the tasks (the name is pinned in ``hrm.delivery.tasks`` and tested)."""

import logging

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hrm.models import HrmReport
from hrm.senders.selectors import message_resend_status
from referrals.models import ReferralEvent
from referrals.services import referral_event_add

logger = logging.getLogger(__name__)
Status = HrmReport.Status

DELIVER_TASK = "hrm.tasks.reports_deliver_task"


def reports_publish(report_ids: list[int], *, countdown: float = 0) -> bool:
    """Publish now: one broker message per ``HRM_DELIVERY_BATCH_SIZE`` reports, so a message's
    reports travel together and a worker uploads them over one connection. False (logged) when
    the broker cannot be reached."""
    batch = settings.HRM_DELIVERY_BATCH_SIZE
    try:
        for start in range(0, len(report_ids), batch):
            current_app.send_task(
                DELIVER_TASK, args=(report_ids[start : start + batch],), countdown=countdown
            )
    except Exception:
        logger.warning(
            "Could not enqueue HRM reports %s (broker unreachable); the re-drive will send them.",
            report_ids,
            exc_info=True,
        )
        return False
    return True


def reports_enqueue(report_ids: list[int]) -> None:
    """Publish once the current transaction commits, so no worker looks for a row before it
    exists: pressing Send costs one publish."""
    transaction.on_commit(lambda: reports_publish(report_ids))


def reports_resend(*, report_ids: list[int], by) -> list[int]:
    """Queue failed reports again, in one statement and one publish: the same file, the same
    Transaction ID, so an EMR that did receive one absorbs the repeat. A fresh retry window
    starts now. Returns the ids re-queued (reports that had not failed are left alone)."""
    now = timezone.now()
    with transaction.atomic():
        failed = list(
            HrmReport.objects.select_for_update()
            .filter(pk__in=report_ids, status=Status.FAILED)
            .order_by("pk")  # locked in one order, so two re-sends cannot deadlock
            .values_list("pk", flat=True)
        )
        HrmReport.objects.filter(pk__in=failed).update(
            status=Status.QUEUED,
            next_attempt_at=now,
            delivery_started_at=now,
            resent_at=now,
            resent_by=by,
            last_error="",
            error_class="",
            attempts=0,
        )
        if failed:
            reports_enqueue(failed)
            resend_events_record(failed, by)
    return failed


def resend_events_record(report_ids: list[int], by) -> None:
    """One line in each referral's event log per message re-sent: who re-sent which parts to
    whom (the clinician's re-send and support's bulk re-send)."""
    by_message: dict[int, list[HrmReport]] = {}
    for report in (
        HrmReport.objects.filter(pk__in=report_ids)
        .select_related("message__referral", "attachment")
        .defer("xml")
        .order_by("message_id", "attachment_id", "recipient_name", "pk")
    ):
        by_message.setdefault(report.message_id, []).append(report)
    for reports in by_message.values():
        message = reports[0].message
        parts = "; ".join(f"{r.part_label} to {r.recipient_name}" for r in reports)
        count = len(reports)
        referral_event_add(
            message.referral,
            kind=ReferralEvent.Kind.DELIVERY_RESENT,
            actor=by,
            description=(
                f"Re-sent {count} HRM report{'s' if count != 1 else ''} of the message of "
                f"{timezone.localtime(message.created_at):%Y-%m-%d %H:%M}: {parts}"
            ),
        )


def report_resend(*, report: HrmReport, by) -> bool:
    """``reports_resend`` for one report: whether it was re-queued."""
    return bool(reports_resend(report_ids=[report.pk], by=by))


class ResendRefused(Exception):
    """The author may no longer send through HRM; ``reasons`` say why (for the clinician)."""

    def __init__(self, reasons):
        self.reasons = tuple(reasons)
        super().__init__(" ".join(self.reasons))


def message_reports_resend(*, message, by, report_id: int | None = None) -> list[HrmReport]:
    """The clinician's re-send: every failed report of the message, or the one named (which must
    be the message's: ``HrmReport.DoesNotExist`` otherwise). Refused with ``ResendRefused`` when
    the author can no longer send for the site they wrote for. Returns the reports re-queued."""
    reports = HrmReport.objects.filter(message=message)
    ids = (
        [reports.values_list("pk", flat=True).get(pk=report_id)]
        if report_id is not None
        else list(reports.values_list("pk", flat=True))
    )
    blocked = message_resend_status(message)
    if blocked is not None:
        raise ResendRefused(blocked.missing)
    # reports_resend takes only the failed ones, under their row locks.
    resent = reports_resend(report_ids=ids, by=by)
    return list(HrmReport.objects.filter(pk__in=resent).order_by("pk"))


def reports_enqueue_now(report_ids: list[int]) -> list[int]:
    """Support's "hand these queued reports to the workers now": due at once, and published.
    Returns the ids that were still queued."""
    with transaction.atomic():
        queued = list(
            HrmReport.objects.filter(pk__in=report_ids, status=Status.QUEUED).values_list(
                "pk", flat=True
            )
        )
        HrmReport.objects.filter(pk__in=queued, status=Status.QUEUED).update(
            next_attempt_at=timezone.now()
        )
        if queued:
            reports_enqueue(queued)
    return queued
