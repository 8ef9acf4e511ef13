"""The delivery's hooks for support: once the worker has recorded an attempt's outcome on the
report row, ``attempt_finished`` keeps the attempt on record, tells HRM's health what it saw,
and raises the alerts (a final failure, or a re-send that went through).

Nothing here may undo or hold up a delivery: the row is already written, so a failure in
these records is logged and the delivery goes on."""

import logging
import os
import socket

from django.utils import timezone

from hrm.delivery.errors import error_classify
from hrm.models import HrmAttempt, HrmReport

logger = logging.getLogger(__name__)
Outcome = HrmAttempt.Outcome


def worker_name() -> str:
    """``celery@host pid 1234`` inside a worker, ``host pid 1234`` elsewhere."""
    try:
        from celery import current_task

        hostname = current_task.request.hostname if current_task else None
    except Exception:  # noqa: BLE001 — no task context
        hostname = None
    return f"{hostname or socket.gethostname()} pid {os.getpid()}"


def attempt_record(report: HrmReport, *, outcome: str, error: str = "") -> HrmAttempt:
    """Keep one attempt: when it started (the claim), how long it took, which worker, the
    outcome, and the error with its class."""
    now = timezone.now()
    started = report.last_attempt_at or report.sending_since or now
    return HrmAttempt.objects.create(
        report_id=report.pk,
        number=report.attempts,
        resend=report.resent_at is not None,
        started_at=started,
        finished_at=now,
        duration_ms=max(0, int((now - started).total_seconds() * 1000)),
        worker=worker_name()[:200],
        outcome=outcome,
        error_class=error_classify(error) if outcome != Outcome.SENT else "",
        error=error if outcome != Outcome.SENT else "",
    )


def attempt_finished(report: HrmReport, *, outcome: str, error: str = "") -> None:
    """Call once per report and attempt, right after the outcome is on the row: ``outcome`` is
    ``sent``, ``retry`` or ``failed`` (final), ``error`` the text stored in ``last_error``."""
    from hrm.delivery.services.alerts import message_failures_alert, report_delivered_after_resend
    from hrm.delivery.services.health import hrm_health_observe

    try:
        attempt = attempt_record(report, outcome=outcome, error=error)
        hrm_health_observe(
            outcome=outcome,
            error_class=attempt.error_class,
            recipient=report.deliver_to_user_id,
            error=error,
        )
        if outcome == Outcome.FAILED:
            report_finally_failed(report)
        elif outcome == Outcome.SENT:
            if report.resent_at is not None:
                report_delivered_after_resend(report)
            else:
                # A part that failed earlier is alerted once the message's last part settles.
                message_failures_alert(report.message_id)
    except Exception:
        logger.exception("HRM report %s: could not record attempt %s", report.pk, report.attempts)


def report_finally_failed(report: HrmReport) -> None:
    """A report's delivery has failed for good: alert once its message's parts have settled."""
    from hrm.delivery.services.alerts import message_failures_alert

    message_failures_alert(report.message_id)


def attempts_worker_lost(report_ids: list[int]) -> None:
    """The re-drive found these rows stuck in "sending" (their worker died): keep that attempt
    on record before the row is reset. Call just before the reset, while ``sending_since``
    still says when the lost attempt began."""
    now = timezone.now()
    error = "The worker stopped during the upload; trying again."
    try:
        HrmAttempt.objects.bulk_create(
            HrmAttempt(
                report_id=pk,
                number=attempts,
                resend=resent_at is not None,
                started_at=since or now,
                finished_at=now,
                duration_ms=max(0, int((now - (since or now)).total_seconds() * 1000)),
                worker="(lost; found by the re-drive)",
                outcome=Outcome.RETRY,
                error_class=error_classify(error),
                error=error,
            )
            for pk, attempts, since, resent_at in HrmReport.objects.filter(
                pk__in=report_ids, status=HrmReport.Status.SENDING
            ).values_list("pk", "attempts", "sending_since", "resent_at")
        )
    except Exception:
        logger.exception("Could not record the lost attempts of %s", report_ids)
