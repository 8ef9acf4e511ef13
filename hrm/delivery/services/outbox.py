"""HRM delivery as a state machine on the ``HrmReport`` row (the outbox).

queued ──claim──▶ sending ──upload ok──▶ sent
   ▲                 │
   └──transient──────┤ (next_attempt_at in the future)
                     └──permanent, too old or too many attempts──▶ failed ──re-send──▶ queued

A worker claims a row in a short transaction, uploads outside any transaction, and records the
outcome in another. The broker only carries row ids; losing a broker message loses nothing,
because the beat re-drive finds every row that is due.

HRM takes each completed file away as soon as it appears, so the server cannot say after a crash
whether a file was delivered; the row does. Within an attempt, for the batch (one message's
reports, and the others due that a worker takes along) together: every ``<name>.part`` is
written and acknowledged, then ``staged_at`` committed for all of them, then the renames, then
``sent`` committed in one statement as soon as the renames return. HRM is across the internet,
so each step sends every request at once and costs one round trip however many reports it
carries (``Transport.staging``, ``promote_all``); each file is written as soon as it is made, so
the server writes one while the worker builds the next.
A retry asks the server (``probe``): the final name, or "staged" with neither name left, means
delivered; a complete ``.part`` is renamed; anything else is uploaded again. This holds only if
HRM never removes a ``.part`` it did not finish (docs/delivery.md).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from directory.models import Listing
from hrm.delivery.selectors.due import reports_due_alongside
from hrm.delivery.selectors.messages import message_hrm_eligibility
from hrm.delivery.services.claim import reports_claim
from hrm.delivery.services.queue import reports_enqueue
from hrm.delivery.services.recording import (
    DeliveryResult,
    Outcome,
    db_write_retried,
    report_failure_recorded,
    report_part_discard,
    report_refusal_recorded,
    report_sent_recorded,
    reports_sent_recorded,
    reports_worker_lost_recorded,
)
from hrm.delivery.transports import (
    Probe,
    Transport,
    TransportError,
    remote_name_for,
)
from hrm.models import ErrorClass, HrmMessageDecision, HrmReport
from hrm.reports.crypto import KeyInvalid, report_encrypt
from hrm.reports.reading import ReportInvalid
from hrm.reports.services import (
    AttachmentMissing,
    message_reports_create,
    report_xml_build,
    reports_xml_keep,
)
from hrm.reports.versions import message_reports_amend, message_reports_withdraw
from hrm.senders.selectors import reports_sender_refusals
from referrals.models import Attachment, Message

logger = logging.getLogger(__name__)
Status = HrmReport.Status


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


def message_hrm_amend(
    old_message: Message,
    new_message: Message,
    *,
    actor,
    stakeholders: list[Listing],
    attachments: list[Attachment],
    replaced_attachments,
) -> list[HrmReport]:
    """``new_message`` amends ``old_message``: each part that went out for the old one goes as a
    new version of its report, a part removed is withdrawn (or cancelled if never sent), a part
    added goes to the live stakeholders (``message_reports_amend``); in the caller's
    transaction, enqueued once it commits. The new message's decision says why nothing new went
    when the author can no longer send."""
    eligibility = message_hrm_eligibility(
        referral=new_message.referral,
        author=new_message.author,
        author_listing=new_message.author_listing,
        stakeholders=stakeholders,
    )
    reports = message_reports_amend(
        old_message,
        new_message,
        actor=actor,
        recipients=eligibility.recipients,
        attachments=attachments,
        replaced_attachments=replaced_attachments,
    )
    HrmMessageDecision.objects.create(
        message=new_message,
        attempted=bool(reports),
        reasons=[] if reports else list(eligibility.reasons),
    )
    reports_enqueue([report.pk for report in reports])
    return reports


def message_hrm_withdraw(message: Message, *, actor, reason: str) -> list[HrmReport]:
    """Withdraw ``message`` from every EMR it went to (``message_reports_withdraw``): parts not
    yet sent are cancelled, the others get a withdrawal version, enqueued once the caller's
    transaction commits."""
    reports = message_reports_withdraw(message, actor=actor, reason=reason)
    reports_enqueue([report.pk for report in reports])
    return reports


@dataclass
class _Job:
    """One claimed report on its way through this attempt."""

    report: HrmReport
    name: str
    data: bytes = b""  # the encrypted file, once made
    xml: bytes = b""  # the file built by this attempt, before its row keeps it
    result: DeliveryResult | None = None
    needs_marker: bool = True  # "staged" is not committed yet for this attempt's .part
    part_known: bool = False  # this attempt saw its .part there: it was never renamed
    refusal: TransportError | None = None  # decided once the batch shows what HRM accepted


class _Unreachable(Exception):
    """The server is down or the network is: the rest of the batch would only wait out the same
    timeout one by one."""

    def __init__(self, message: str, error_class: ErrorClass):
        super().__init__(message)
        self.message = message
        self.error_class = error_class


def _build(report: HrmReport) -> tuple[bytes | None, DeliveryResult | None]:
    """A file not built yet: built and validated (stored with the batch's, by ``_files_keep``)."""
    try:
        return report_xml_build(report), None
    except ReportInvalid as invalid:
        problems = "; ".join(invalid.problems)
        failure = f"The report was not sent because {problems}."
        return None, report_failure_recorded(report, failure, invalid.error_class, permanent=True)
    except AttachmentMissing as missing:
        logger.exception("HRM report %s: attachment missing from storage", report.pk)
        failure = "The attached file is missing from storage; it cannot be sent."
        return None, report_failure_recorded(report, failure, missing.error_class, permanent=True)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        logger.exception("HRM report %s: could not build the report", report.pk)
        return None, report_failure_recorded(
            report, _build_failure(error), ErrorClass.BUILD, permanent=False
        )


def _senders_checked(
    reports: list[HrmReport],
) -> tuple[list[HrmReport], dict[int, DeliveryResult]]:
    """Claimed reports whose author may still send through HRM, and the others failed with the
    reason (a revoked approval stops what was not sent yet, retries included). A report staged
    before (its whole file already on HRM's server, maybe taken) is finished, not failed: only
    its next step can tell whether HRM has it."""
    if not reports:
        return reports, {}
    refusals = reports_sender_refusals([r for r in reports if r.staged_at is None])
    failed = {
        report.pk: report_failure_recorded(
            report, refusals[report.pk], ErrorClass.SENDER, permanent=True
        )
        for report in reports
        if report.pk in refusals
    }
    return [report for report in reports if report.pk not in failed], failed


def _build_failure(error: Exception) -> str:
    return f"The report could not be built ({type(error).__name__}: {error}); will retry."


def _file_make(job: _Job) -> bool:
    """``job``'s encrypted file, from the XML its row keeps or built and validated now (kept
    with the batch's by ``_files_keep``); False, with the report's failure recorded, when it
    cannot be made."""
    report = job.report
    xml = report.xml
    if not xml:
        xml, job.result = _build(report)
        if job.result is not None:
            return False
        job.xml = xml
    try:
        job.data = report_encrypt(xml, settings.HRM_AES_KEY)  # any buffer, not copied
    except KeyInvalid as invalid:
        # Our configuration (a worker refuses to start with it): every report of the batch
        # goes back now, with the cause, and retries once the key is fixed.
        job.result = report_failure_recorded(
            report,
            f"The report could not be encrypted: {invalid}; will retry.",
            invalid.error_class,
            permanent=False,
        )
        return False
    return True


def _files_keep(jobs: list[_Job]) -> list[_Job]:
    """Store the files this attempt built, in one statement (every later attempt uploads those
    very bytes); a report whose row kept another attempt's file meanwhile is returned, its
    ``.part`` to be written again with the kept bytes."""
    built = [job for job in jobs if job.xml and job.result is None]
    try:
        reports_xml_keep([(job.report, job.xml) for job in built])
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        logger.exception("HRM reports %s: could not store the files", [j.report.pk for j in built])
        for job in built:
            job.result = report_failure_recorded(
                job.report, _build_failure(error), ErrorClass.BUILD, permanent=False
            )
        return []
    return [job for job in built if job.report.xml is not job.xml]


def _transport_failed(job: _Job, error: TransportError, transport: Transport) -> None:
    """Record what a transport error means for this attempt; raise ``_Unreachable`` when the
    rest of the batch should not be tried."""
    report = job.report
    if error.refusal:
        job.refusal = error
        return
    job.result = report_failure_recorded(
        report, error.message, error.error_class, permanent=error.permanent
    )
    if job.result.outcome is Outcome.FAILED:
        report_part_discard(report, transport, job.name, part_there=job.part_known)
    if not error.permanent:
        raise _Unreachable(error.message, error.error_class)


def _step_failed(job: _Job, error: TransportError, jobs: list[_Job], transport: Transport) -> None:
    """A write or a look failed for ``job``: recorded (``_transport_failed``); a refusal of our
    key or the folder, rather than of this file, is every other report's too."""
    _transport_failed(job, error, transport)
    if job.refusal is not None and not error.file_refusal:
        for rest in _pending(jobs):
            rest.refusal = error


def _resume(job: _Job, transport: Transport) -> bool:
    """What an earlier attempt left decides this one's first step; True when the file is to be
    written again. HRM takes completed files away, so the record says what the server cannot."""
    report = job.report
    found = transport.probe(job.name, len(job.data))
    if found is Probe.DELIVERED or (found is Probe.ABSENT and report.staged_at is not None):
        # Renamed by an earlier attempt: still there, or staged and since taken away by HRM.
        job.result = report_sent_recorded(report)
        return False
    job.part_known = found is not Probe.ABSENT
    if found is Probe.STAGED and not job.xml:  # a file built now may differ from that .part
        job.needs_marker = report.staged_at is None
        return False
    return True


class _NotConnected:
    """The staging of a batch whose connection failed: every file is made all the same (a report
    that cannot be built fails with its own cause), and each fails with the connection's."""

    def __init__(self, error: TransportError):
        self.error = error
        self.outcome: dict[str, TransportError | None] = {}

    def write(self, remote_name: str, data: bytes) -> None:
        self.outcome[remote_name] = self.error

    def drop(self, remote_name: str) -> None:
        """Nothing to write."""

    def finish(self) -> dict[str, TransportError | None]:
        return self.outcome


def _resume_safely(job: _Job, jobs: list[_Job], transport: Transport) -> bool:
    """``_resume``, with a failed look recorded (``_step_failed``) rather than raised."""
    try:
        return _resume(job, transport)
    except TransportError as error:
        _step_failed(job, error, jobs, transport)
        return False


def _stage(made: list[_Job], to_make: list[_Job], jobs: list[_Job], transport: Transport) -> None:
    """Write every ``.part`` of the batch: those of ``made`` (retries, their files ready) at
    once, then each of ``to_make`` as soon as its file is built and encrypted, so HRM's server
    writes one while the next is made; the files built are stored while the server writes them.
    Each job keeps its own outcome; an error about the whole batch (the connection, our key) is
    each job's."""
    writing = [job for job in [*made, *to_make] if job.refusal is None]
    if not writing:
        return
    try:
        staging = transport.staging([job.name for job in writing])
    except TransportError as error:
        staging = _NotConnected(error)
    try:
        for job in writing:
            if job.data or _file_make(job):
                staging.write(job.name, job.data)
            else:
                staging.drop(job.name)
        again = _files_keep(writing)
    except BaseException:
        transport.close()  # the files in flight are given up: the server closes them with it
        raise
    outcome = staging.finish()
    if again:
        for job in again:
            job.data = report_encrypt(job.report.xml, settings.HRM_AES_KEY)
        outcome.update(_stage_again({job.name: job.data for job in again}, transport))
    for job in writing:
        if job.result is not None or job.refusal is not None:
            continue  # not made, or refused along with an earlier one
        error = outcome[job.name]
        if error is None:
            job.part_known = True
        else:
            _step_failed(job, error, jobs, transport)


def _stage_again(files: dict[str, bytes], transport: Transport) -> dict[str, TransportError | None]:
    try:
        return transport.stage_all(files)
    except TransportError as error:
        return dict.fromkeys(files, error)


def _mark_staged(jobs: list[_Job]) -> list[_Job]:
    """Commit "staged" for every complete ``.part`` of this attempt, before any rename; return
    the jobs this attempt still owns (the re-drive may have handed a row to another)."""
    pending = [job for job in jobs if job.needs_marker]
    if pending:
        claim = pending[0].report.sending_since
        ids = [job.report.pk for job in pending]

        def mark() -> int:
            return HrmReport.objects.filter(
                pk__in=ids, status=Status.SENDING, sending_since=claim
            ).update(staged_at=timezone.now())

        if db_write_retried(mark) != len(ids):
            owned = set(
                HrmReport.objects.filter(
                    pk__in=ids, status=Status.SENDING, sending_since=claim
                ).values_list("pk", flat=True)
            )
            for job in pending:
                if job.report.pk not in owned:
                    job.result = DeliveryResult(Outcome.SKIPPED)
        for job in pending:
            job.report.staged_at = job.report.staged_at or timezone.now()
    return [job for job in jobs if job.result is None]


def _promote(staged: list[_Job], transport: Transport, *, again: bool = True) -> None:
    """Rename every staged ``.part`` at once; the renamed are recorded sent in one statement
    before anything else is looked at, then each failed rename is settled on its own. A rename
    whose reply was lost is looked up: gone means HRM has it, a ``.part`` still there is renamed
    once more with the others in that case (``again``)."""
    if not staged:
        return
    outcome = transport.promote_all([job.name for job in staged])
    renamed = [job for job in staged if outcome[job.name] is None]
    if renamed:
        sent = reports_sent_recorded([job.report for job in renamed])
        for job in renamed:
            job.result = sent[job.report.pk]
    still_staged = []
    for job in staged:
        error = outcome[job.name]
        if error is None:
            continue
        if not error.rename_unknown:
            _transport_failed(job, error, transport)
            continue
        # Look rather than guess. It is staged, so "neither name" means HRM took it.
        job.part_known = False
        try:
            found = transport.probe(job.name, len(job.data))
        except TransportError as lost:
            _transport_failed(job, lost, transport)
            continue
        if found is Probe.STAGED and again:
            job.part_known = True
            still_staged.append(job)
        elif found in (Probe.STAGED, Probe.PARTIAL):
            job.part_known = True
            _transport_failed(job, error, transport)
        else:
            job.result = report_sent_recorded(job.report)
    _promote(still_staged, transport, again=False)


def _pending(jobs: list[_Job]) -> list[_Job]:
    return [job for job in jobs if job.result is None and job.refusal is None]


def reports_deliver(
    report_ids: list[int], transport: Transport, *, take_along: bool = False
) -> dict[int, DeliveryResult]:
    """One delivery attempt for each of ``report_ids`` (typically one message's reports), and,
    with ``take_along`` (the workers' tasks), for other reports due now up to the pipeline's
    size (``reports_due_alongside``), over one connection: one claim; each file built once,
    encrypted and its ``<name>.part`` written as soon as it is made, the batch's new files stored
    while the server writes them; one commit marking them staged; every
    rename at once, and the renamed recorded sent in one statement as soon as the renames
    return. A retry starts from what the record and the server say (``_resume``). Whatever goes
    wrong after the claim is recorded on the row, so no report is left "sending" (unless the
    database stays away: then the re-drive finds the row, and its record makes the retry safe).
    """
    if take_along:
        report_ids = [*report_ids, *reports_due_alongside(report_ids)]
    results = {report_id: DeliveryResult(Outcome.SKIPPED) for report_id in report_ids}
    claimed = reports_claim(report_ids)
    try:
        claimed, refused = _senders_checked(claimed)
        results.update(refused)
    except (OperationalError, InterfaceError):
        raise  # the database stayed away: the rows stay "sending" for the re-drive
    except Exception as error:
        # Nothing was uploaded: the batch goes back now, with its cause, rather than wait in
        # "sending" for the re-drive to call it a stopped worker.
        logger.exception("HRM reports %s: unexpected error before the upload", report_ids)
        _unexpected(claimed, error, "before the upload", results)
        return results
    jobs = [_Job(report, remote_name_for(report.transaction_id)) for report in claimed]
    try:
        made, to_make = [], []
        for job in jobs:
            report = job.report
            # Only a retry or a re-send can find something an earlier attempt left.
            if report.attempts > 1 or report.resent_at is not None or report.staged_at is not None:
                if job.refusal is None and _file_make(job) and _resume_safely(job, jobs, transport):
                    made.append(job)
            else:
                to_make.append(job)
        _stage(made, to_make, jobs, transport)
        _promote(_mark_staged(_pending(jobs)), transport)
    except _Unreachable as unreachable:
        # The reports not tried count this attempt and retry on their own schedules.
        for job in _pending(jobs):
            job.result = report_failure_recorded(
                job.report, unreachable.message, unreachable.error_class, permanent=False
            )
    except (OperationalError, InterfaceError):
        raise  # the database stayed away: the rows stay "sending" for the re-drive
    except Exception as error:
        logger.exception("HRM reports %s: unexpected error during delivery", report_ids)
        pending = _pending(jobs)
        _unexpected([job.report for job in pending], error, "during the upload", results)
        for job in pending:
            job.result = results[job.report.pk]
    for job in jobs:
        if job.refusal is not None and job.result is None:
            job.result = report_refusal_recorded(job.report, job.refusal, transport)
            if job.result.outcome is Outcome.FAILED:
                report_part_discard(job.report, transport, job.name, part_there=job.part_known)
        if job.result is not None:
            results[job.report.pk] = job.result
    return results


def _unexpected(
    reports: list[HrmReport], error: Exception, when: str, results: dict[int, DeliveryResult]
) -> None:
    """An error nobody classified: each report goes back with its type (never its words, which
    may quote a row), to retry on its schedule."""
    failure = f"Unexpected error {when} ({type(error).__name__}); will retry."
    error_class = getattr(error, "error_class", ErrorClass.UNEXPECTED)
    for report in reports:
        results[report.pk] = report_failure_recorded(report, failure, error_class, permanent=False)


def report_deliver(report_id: int, transport: Transport) -> DeliveryResult:
    """One delivery attempt of one report alone (tests and tools; a worker's task takes others
    along, ``reports_deliver``)."""
    return reports_deliver([report_id], transport)[report_id]


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
            reports_worker_lost_recorded(stuck, now)
    ids = [pk for pk, _ in rows]
    if ids:
        logger.info("HRM re-drive: enqueueing %s report(s)", len(ids))
        reports_enqueue(ids)
    return ids
