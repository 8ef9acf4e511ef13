"""HRM delivery as a state machine on the ``HrmReport`` row (the outbox).

queued ──claim──▶ sending ──upload ok──▶ sent
   ▲                 │
   └──transient──────┤ (next_attempt_at in the future)
                     └──permanent, too old or too many attempts──▶ failed ──re-send──▶ queued

A worker claims a row in a short transaction, uploads outside any transaction, and records the
outcome in another. The broker only carries row ids; losing a broker message loses nothing,
because the beat re-drive finds every row that is due.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from directory.models import Listing
from hrm.crypto import report_encrypt
from hrm.models import HrmMessageDecision, HrmReport
from hrm.report_xml import ReportInvalid
from hrm.selectors.delivery import message_hrm_eligibility
from hrm.services.reports import AttachmentMissing, message_reports_create, report_xml_ensure
from hrm.transports import Transport, TransportError, remote_name_for
from referrals.models import Attachment, Message

logger = logging.getLogger(__name__)
Status = HrmReport.Status


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"  # someone else has it, it is done, or it is not due yet


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    retry_in: float = 0.0  # seconds, for RETRY


def message_hrm_dispatch(
    message: Message,
    *,
    stakeholders: list[Listing],
    attachments: list[Attachment],
) -> list[HrmReport]:
    """Decide whether ``message`` goes out via HRM and, if so, create one outbox row per part and
    live stakeholder, in the caller's transaction; the rows are enqueued once it commits.
    ``stakeholders`` and ``attachments``: the referral's stakeholder listings and the message's
    attachments, which Send has read already."""
    eligibility = message_hrm_eligibility(
        referral=message.referral,
        author=message.author,
        author_listing=message.author_listing,
        stakeholders=stakeholders,
    )
    HrmMessageDecision.objects.create(
        message=message, attempted=bool(eligibility.recipients), reasons=list(eligibility.reasons)
    )
    if not eligibility.recipients:
        return []
    reports = message_reports_create(
        message=message, recipients=eligibility.recipients, attachments=attachments
    )
    reports_enqueue([report.pk for report in reports])
    return reports


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: up to first*2^(n-1), capped."""
    first = settings.HRM_RETRY_FIRST_DELAY_SECONDS
    ceiling = min(settings.HRM_RETRY_MAX_DELAY_SECONDS, first * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def reports_claim(report_ids: list[int]) -> list[HrmReport]:
    """Mark the due, queued rows among ``report_ids`` as sending and count the attempt; return
    the rows this call claimed (with what building their files needs).

    One conditional UPDATE decides: when two workers race for a row, exactly one update matches
    it. The claim's time marks the rows it took, so another worker's claim is never mistaken for
    this one's."""
    now = timezone.now()
    HrmReport.objects.filter(
        pk__in=report_ids, status=Status.QUEUED, next_attempt_at__lte=now
    ).update(
        status=Status.SENDING,
        sending_since=now,
        last_attempt_at=now,
        attempts=F("attempts") + 1,
    )
    return list(
        HrmReport.objects.select_related(
            "message__referral", "message__author", "recipient", "attachment"
        )
        .filter(pk__in=report_ids, status=Status.SENDING, sending_since=now)
        .order_by("pk")
    )


def _record_sent(report_ids: list[int]) -> None:
    # Once uploaded, the file is on HRM's server whatever any other worker thinks: sent wins.
    HrmReport.objects.filter(pk__in=report_ids).exclude(status=Status.SENT).update(
        status=Status.SENT, sent_at=timezone.now(), sending_since=None, last_error=""
    )


def _record_failure(report: HrmReport, error: str, *, permanent: bool) -> DeliveryResult:
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
    # Only the attempt that claimed the row records its outcome: a worker presumed dead and
    # overtaken by the re-drive must not overwrite a newer attempt.
    updated = HrmReport.objects.filter(
        pk=report.pk, status=Status.SENDING, attempts=report.attempts
    ).update(
        status=Status.FAILED if fail else Status.QUEUED,
        next_attempt_at=now + timedelta(seconds=delay),
        sending_since=None,
        last_error=error,
    )
    if not updated:
        return DeliveryResult(Outcome.SKIPPED)
    logger.warning("HRM report %s attempt %s: %s", report.pk, report.attempts, error)
    return DeliveryResult(Outcome.FAILED, 0) if fail else DeliveryResult(Outcome.RETRY, delay)


def _attempt(report: HrmReport, transport: Transport) -> tuple[DeliveryResult | None, str]:
    """Build (once), encrypt and upload one claimed report. Returns the recorded failure, or None
    when the file is on the server, and the error when it was the server being unreachable."""
    try:
        xml = report_xml_ensure(report)
    except ReportInvalid as invalid:
        problems = "; ".join(invalid.problems)
        failure = f"The report was not sent because {problems}."
        return _record_failure(report, failure, permanent=True), ""
    except AttachmentMissing:
        logger.exception("HRM report %s: attachment missing from storage", report.pk)
        failure = "The attached file is missing from storage; it cannot be sent."
        return _record_failure(report, failure, permanent=True), ""
    except Exception as error:  # noqa: BLE001 — e.g. the schema file missing: fix, then it goes
        logger.exception("HRM report %s: could not build the report", report.pk)
        failure = f"The report could not be built ({type(error).__name__}: {error}); will retry."
        return _record_failure(report, failure, permanent=False), ""
    try:
        transport.upload(
            remote_name_for(report.transaction_id),
            report_encrypt(xml, settings.HRM_AES_KEY),
            # Only a retry or a re-send can find its file delivered by an earlier attempt.
            may_be_delivered=report.attempts > 1 or report.resent_at is not None,
        )
    except TransportError as error:
        unreachable = "" if error.permanent else error.message
        return _record_failure(report, error.message, permanent=error.permanent), unreachable
    except Exception as error:  # noqa: BLE001 — unforeseen: keep the row retrying, log it all
        logger.exception("HRM report %s: unexpected error during upload", report.pk)
        failure = f"Unexpected error during the upload ({type(error).__name__}); will retry."
        return _record_failure(report, failure, permanent=False), ""
    return None, ""


def reports_deliver(report_ids: list[int], transport: Transport) -> dict[int, DeliveryResult]:
    """One delivery attempt for each of ``report_ids`` (typically one message's reports): one
    claim, each file built once, encrypted and uploaded over the same connection, one update for
    all that were sent. Whatever goes wrong after the claim is recorded on the row, so no report
    is left "sending"."""
    results = {report_id: DeliveryResult(Outcome.SKIPPED) for report_id in report_ids}
    claimed = reports_claim(report_ids)
    sent = []
    for index, report in enumerate(claimed):
        failure, unreachable = _attempt(report, transport)
        if failure is None:
            sent.append(report.pk)
            results[report.pk] = DeliveryResult(Outcome.SENT)
            continue
        results[report.pk] = failure
        if unreachable:
            # The server is down or the network is: the rest would only wait out the same
            # timeout one by one. They count this attempt and retry on their own schedules.
            for rest in claimed[index + 1 :]:
                results[rest.pk] = _record_failure(rest, unreachable, permanent=False)
            break
    _record_sent(sent)
    return results


def report_deliver(report_id: int, transport: Transport) -> DeliveryResult:
    """One delivery attempt of one report (a retry, or a single re-send)."""
    return reports_deliver([report_id], transport)[report_id]


def report_resend(*, report: HrmReport, by) -> bool:
    """Queue a failed (or stuck) report again: the same file, the same Transaction ID, so an EMR
    that did receive it absorbs the repeat. A fresh retry window starts now."""
    now = timezone.now()
    updated = HrmReport.objects.filter(pk=report.pk, status=Status.FAILED).update(
        status=Status.QUEUED,
        next_attempt_at=now,
        delivery_started_at=now,
        resent_at=now,
        resent_by=by,
        last_error="",
        attempts=0,
    )
    if updated:
        reports_enqueue([report.pk])
    return bool(updated)


def reports_enqueue(report_ids: list[int]) -> None:
    """Hand the rows to the workers once the current transaction commits: one broker message
    per few reports (a message's reports usually travel together), so pressing Send costs one
    publish and a worker uploads them over one connection. If the broker is down the rows stay
    queued and the beat re-drive sends them later."""

    def publish():
        from hrm.tasks import reports_deliver_task

        batch = settings.HRM_DELIVERY_BATCH_SIZE
        try:
            for start in range(0, len(report_ids), batch):
                reports_deliver_task.apply_async((report_ids[start : start + batch],))
        except Exception:  # noqa: BLE001 — any broker failure: the rows are the truth
            logger.warning(
                "Could not enqueue HRM reports %s (broker unreachable); the re-drive will "
                "send them.",
                report_ids,
                exc_info=True,
            )

    transaction.on_commit(publish)


def reports_redrive() -> list[int]:
    """Find rows the workers should have but may not: queued rows well past due (never enqueued,
    or their broker message lost), and rows stuck in "sending" (the worker died). Returns the ids
    it enqueued."""
    now = timezone.now()
    due = now - timedelta(seconds=settings.HRM_REDRIVE_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.HRM_SENDING_STALE_SECONDS)
    with transaction.atomic():
        rows = list(
            HrmReport.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Status.QUEUED, next_attempt_at__lte=due)
                | Q(status=Status.SENDING, sending_since__lte=stale)
            )
            .values_list("pk", "status")[:1000]
        )
        stuck = [pk for pk, status in rows if status == Status.SENDING]
        if stuck:
            # The attempt that died still counts; the file may or may not be on the server, and
            # the upload's idempotence makes trying again safe either way.
            HrmReport.objects.filter(pk__in=stuck, status=Status.SENDING).update(
                status=Status.QUEUED,
                sending_since=None,
                next_attempt_at=now,
                last_error="The worker stopped during the upload; trying again.",
            )
    ids = [pk for pk, _ in rows]
    if ids:
        logger.info("HRM re-drive: enqueueing %s report(s)", len(ids))
        reports_enqueue(ids)
    return ids
