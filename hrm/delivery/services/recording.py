"""Recording each attempt's outcome on its row as soon as it is known: sent the moment its rename
returns, a retry with its back-off, a failure for good, a refusal only once it persists. The
writes are retried through a brief database outage, never answered with a second upload.

One outcome, one place: each outcome is written here, with its error's class as the raise site
decided it, and then told, in this order and from here only, to the attempt record
(``attempts``), HRM's health (``health``) and the alerts (``alerts``). None of those calls back
into the delivery."""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from directory.professional_id import professional_id_display
from hrm.delivery.services.alerts import message_failures_alert, report_delivered_after_resend
from hrm.delivery.services.attempts import (
    WORKER_LOST,
    SentRecord,
    attempt_record,
    attempts_worker_lost,
    reports_sent_record,
)
from hrm.delivery.services.health import hrm_health_observe
from hrm.delivery.transports import (
    Transport,
    TransportError,
    folder_takes_files,
)
from hrm.models import ErrorClass, HrmAttempt, HrmReport

logger = logging.getLogger(__name__)
Status = HrmReport.Status
_T = TypeVar("_T")


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"  # someone else has it, it is done, or it is not due yet


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    retry_in: float = 0.0  # seconds, for RETRY


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: up to first*2^(n-1), capped."""
    first = settings.HRM_RETRY_FIRST_DELAY_SECONDS
    ceiling = min(settings.HRM_RETRY_MAX_DELAY_SECONDS, first * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def db_write_retried(write: Callable[[], _T]) -> _T:
    """Run one autocommit write, reconnecting and trying again while the database is briefly
    unreachable (a restart, a terminated connection). After a rename, a lost write must never
    be answered by another upload: the row's record is what makes the next attempt safe."""
    deadline = time.monotonic() + settings.HRM_DB_WRITE_RETRY_SECONDS
    pause = 0.2
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            logger.warning("HRM delivery: database write failed (%s); reconnecting", error)
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def reports_sent_recorded(reports: list[HrmReport]) -> dict[int, DeliveryResult]:
    """A batch's renamed reports, recorded sent in one statement that also keeps their attempts
    and reads what HRM's health and the alerts need; then each success is told to them. Once
    renamed, a file is HRM's whatever any other worker thinks: sent wins."""
    records = db_write_retried(lambda: reports_sent_record(reports))
    for report in reports:
        if records[report.pk].marked:
            outcome_told(report, HrmAttempt.Outcome.SENT, sent=records[report.pk])
    return {report.pk: DeliveryResult(Outcome.SENT) for report in reports}


def report_sent_recorded(report: HrmReport) -> DeliveryResult:
    return reports_sent_recorded([report])[report.pk]


def outcome_told(
    report: HrmReport,
    outcome: str,
    *,
    error: str = "",
    error_class: str = "",
    sent: SentRecord | None = None,
) -> None:
    """Tell the attempt record, HRM's health and the alerts about an outcome already on the row:
    ``sent``, ``retry`` or ``failed`` (final). A success written by ``reports_sent_record`` has
    its attempt on record already (``sent``), and skips what that statement found unneeded.
    Nothing here may undo or hold up a delivery: a failure is logged and the delivery goes on."""
    Attempt = HrmAttempt.Outcome
    try:
        if sent is None:
            attempt_record(report, outcome=outcome, error=error, error_class=error_class)
        if sent is None or not sent.hrm_was_up:
            hrm_health_observe(
                outcome=outcome,
                error_class=error_class,
                recipient=report.deliver_to_user_id,
                error=error,
            )
        if outcome == Attempt.FAILED:
            # Alerted once the message's last part settles.
            message_failures_alert(report.message_id)
        elif outcome == Attempt.SENT:
            if report.resent_at is not None:
                report_delivered_after_resend(report)
            elif sent is None or sent.message_may_have_failed:
                # A part that failed earlier is alerted once the message's last part settles.
                message_failures_alert(report.message_id)
    except Exception:
        logger.exception("HRM report %s: could not record attempt %s", report.pk, report.attempts)


def report_failure_recorded(
    report: HrmReport,
    error: str,
    error_class: ErrorClass,
    *,
    permanent: bool,
    refused: bool = False,
) -> DeliveryResult:
    now = timezone.now()
    age = (now - report.delivery_started_at).total_seconds()
    exhausted = (
        age >= settings.HRM_DELIVERY_MAX_AGE_SECONDS
        or report.attempts >= settings.HRM_DELIVERY_MAX_ATTEMPTS
    )
    if not permanent and exhausted:
        hours = age / 3600
        error = (
            f"Gave up after {report.attempts} attempt{'s' if report.attempts != 1 else ''} "
            f"over {hours:.1f} hours. Last error: {error}"
        )
    fail = permanent or exhausted
    delay = 0.0 if fail else retry_delay(report.attempts)
    refusal = (
        {"refused_since": report.refused_since or now, "refusals": report.refusals + 1}
        if refused
        else {"refused_since": None, "refusals": 0}
    )
    # Only the attempt that claimed the row records its outcome: a worker presumed dead and
    # overtaken by the re-drive must not overwrite a newer attempt.
    updated = db_write_retried(
        lambda: HrmReport.objects.filter(
            pk=report.pk, status=Status.SENDING, attempts=report.attempts
        ).update(
            status=Status.FAILED if fail else Status.QUEUED,
            next_attempt_at=now + timedelta(seconds=delay),
            sending_since=None,
            last_error=error,
            error_class=error_class,
            **refusal,
        )
    )
    if not updated:
        return DeliveryResult(Outcome.SKIPPED)
    outcome_told(report, "failed" if fail else "retry", error=error, error_class=error_class)
    logger.log(
        logging.ERROR if fail else logging.WARNING,
        "HRM report %s attempt %s: %s",
        report.pk,
        report.attempts,
        error,
    )
    return DeliveryResult(Outcome.FAILED, 0) if fail else DeliveryResult(Outcome.RETRY, delay)


def report_refusal_recorded(
    report: HrmReport, error: TransportError, transport: Transport
) -> DeliveryResult:
    """A refusal (our key, a permission, the folder) fails the report only when it persists:
    a restarting server refuses for a moment too. A permission refused on this file while HRM
    takes other files (it accepted one over this connection, or takes a test file now) is about
    this file, and fails it at once."""
    if error.file_refusal and (transport.accepted or folder_takes_files(transport)):
        # Not the account's folder permissions, then: the advice for those would contradict it.
        recipient = professional_id_display(report.deliver_to_user_id) or "its recipient"
        return report_failure_recorded(
            report,
            f"{error.fact}. HRM takes other files, so it refuses this file only, not the "
            f"folder: most often HRM does not know its recipient {recipient}; not retrying.",
            ErrorClass.RECIPIENT,
            permanent=True,
        )
    now = timezone.now()
    since = report.refused_since or now
    count = report.refusals + 1
    minutes = (now - since).total_seconds() / 60
    limit = settings.HRM_REFUSAL_FAIL_AFTER_SECONDS / 60
    over = f"{count} consecutive attempt{'s' if count != 1 else ''} over {minutes:.0f} min"
    if minutes >= limit:
        return report_failure_recorded(
            report,
            f"{error.message}. Refused on {over}; not retrying.",
            error.error_class,
            permanent=True,
            refused=True,
        )
    logger.warning(
        "HRM refusal persisting for report %s (%s): %s. Its delivery fails if this lasts %.0f min.",
        report.pk,
        over,
        error.message,
        limit,
    )
    return report_failure_recorded(
        report,
        f"{error.message}. Refused on {over} so far (a restarting server does this too); it "
        f"fails if this persists for {limit:.0f} min.",
        error.error_class,
        permanent=False,
        refused=True,
    )


def report_part_discard(
    report: HrmReport, transport: Transport, name: str, *, part_there: bool
) -> None:
    """A report that will not be retried keeps no ``.part`` on HRM's server. The marker goes
    first: a ``.part`` left by a failed removal is then staged again and renamed by a re-send,
    whereas a marker left without its ``.part`` would read as "renamed and taken". A staged
    report whose rename may have happened (``part_there`` false) keeps both: only the marker
    can tell a re-send that the file may be HRM's already."""
    if report.staged_at is not None:
        if not part_there:
            return
        db_write_retried(lambda: HrmReport.objects.filter(pk=report.pk).update(staged_at=None))
    try:
        transport.discard(name)
    except TransportError as error:
        logger.warning("HRM report %s: could not remove %s.part: %s", report.pk, name, error)


def reports_worker_lost_recorded(report_ids: list[int], now) -> None:
    """The re-drive found these rows stuck in "sending" (their worker died): the lost attempt
    goes on record (while ``sending_since`` still says when it began), then the rows are queued
    again. The attempt that died still counts; the file may or may not be on the server, and
    the upload's idempotence makes trying again safe either way."""
    attempts_worker_lost(report_ids)
    HrmReport.objects.filter(pk__in=report_ids, status=Status.SENDING).update(
        status=Status.QUEUED,
        sending_since=None,
        next_attempt_at=now,
        last_error=WORKER_LOST,
        error_class=ErrorClass.WORKER,
    )
