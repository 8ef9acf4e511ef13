"""HRM delivery as a state machine on the ``HrmReport`` row (the outbox).

queued ──claim──▶ sending ──upload ok──▶ sent
   ▲                 │
   └──transient──────┤ (next_attempt_at in the future)
                     └──permanent, too old or too many attempts──▶ failed ──re-send──▶ queued

A worker claims a row in a short transaction, uploads outside any transaction, and records the
outcome in another. The broker only carries row ids; losing a broker message loses nothing,
because the beat re-drive finds every row that is due.

HRM takes each completed file away as soon as it appears, so the server cannot say after a crash
whether a file was delivered; the row does. Within an attempt: ``<name>.part`` is written, then
``staged_at`` committed, then the rename, then ``sent`` committed as soon as the rename returns.
A retry asks the server (``probe``): the final name, or "staged" with neither name left, means
delivered; a complete ``.part`` is renamed; anything else is uploaded again. This holds only if
HRM never removes a ``.part`` it did not finish (README, Reliability).
"""

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from directory.models import Listing
from hrm.crypto import report_encrypt
from hrm.models import HrmMessageDecision, HrmReport
from hrm.report_xml import ReportInvalid
from hrm.selectors.delivery import message_hrm_eligibility
from hrm.services.attempts import (
    attempt_finished,
    attempt_sent_finish,
    attempts_worker_lost,
    report_sent_record,
)
from hrm.services.reports import (
    AttachmentMissing,
    message_reports_create,
    report_xml_build,
    reports_xml_keep,
)
from hrm.transports import (
    Probe,
    Transport,
    TransportError,
    folder_takes_files,
    remote_name_for,
)
from referrals.models import Attachment, Message

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
    the rows this call claimed (with what building their files needs: the message, its
    referral and author, the recipient, the attachment).

    One conditional UPDATE decides: when two workers race for a row, exactly one update matches
    it, and only the rows it changed are returned. On PostgreSQL that update and the read of
    what it claimed are one statement, one round trip."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        HrmReport.objects.filter(
            pk__in=report_ids, status=Status.QUEUED, next_attempt_at__lte=now
        ).update(
            status=Status.SENDING,
            sending_since=now,
            last_attempt_at=now,
            attempts=F("attempts") + 1,
        )
        return list(
            HrmReport.objects.select_related(*_CLAIMED_WITH)
            .filter(pk__in=report_ids, status=Status.SENDING, sending_since=now)
            .order_by("pk")
        )
    statement, layout = _claim_statement()
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "ids": list(report_ids),
                "queued": Status.QUEUED,
                "sending": Status.SENDING,
                "now": now,
            },
        )
        rows = cursor.fetchall()
    return [_claimed_report(row, layout) for row in rows]


# What a claimed report is built from, loaded with it: (alias, relation, from alias, left join).
_CLAIM_JOINS = (
    ("message", "message", "claimed", False),
    ("referral", "referral", "message", False),
    ("author", "author", "message", False),
    ("recipient", "recipient", "claimed", False),
    ("attachment", "attachment", "claimed", True),
)
_CLAIMED_WITH = ("message__referral", "message__author", "recipient", "attachment")


@dataclass(frozen=True)
class _Loaded:
    """Where one model's columns are in a claimed row, and how to make its instance."""

    alias: str
    model: type
    parent: str | None
    relation: str | None
    start: int
    attnames: list[str]
    converters: list[tuple[int, Callable]]


def _claimed_report(row: tuple, layout: list[_Loaded]) -> HrmReport:
    """One claimed report and what it hangs from, as ``select_related`` would load them."""
    loaded = {}
    for part in layout:
        values = list(row[part.start : part.start + len(part.attnames)])
        instance = None
        if values[0] is not None:  # (no attachment: the typed text's report)
            for index, convert in part.converters:
                values[index] = convert(values[index])
            instance = part.model.from_db(connection.alias, part.attnames, values)
        if part.parent is not None:
            setattr(loaded[part.parent], part.relation, instance)
        loaded[part.alias] = instance
    return loaded["claimed"]


@functools.cache
def _claim_statement() -> tuple[str, list[_Loaded]]:
    """The claim's UPDATE and the read of the rows it took with what they hang from (primary
    key first, then every column, as ``select_related`` reads them); and where each model's
    columns are in a row."""
    models, layout, columns, joins = {"claimed": HrmReport}, [], [], []
    for alias, relation, parent, left in (("claimed", None, None, False), *_CLAIM_JOINS):
        model = HrmReport
        if parent is not None:
            field = models[parent]._meta.get_field(relation)
            model = models[alias] = field.related_model
            joins.append(
                sql.SQL("{} {} {} ON {}.{} = {}.{}").format(
                    sql.SQL("LEFT JOIN" if left else "JOIN"),
                    sql.Identifier(model._meta.db_table),
                    sql.Identifier(alias),
                    sql.Identifier(alias),
                    sql.Identifier(model._meta.pk.column),
                    sql.Identifier(parent),
                    sql.Identifier(field.column),
                )
            )
        fields = [model._meta.pk, *(f for f in model._meta.concrete_fields if not f.primary_key)]
        converters = []
        for index, each in enumerate(fields):
            column = each.get_col(alias)
            found = connection.ops.get_db_converters(column) + each.get_db_converters(connection)
            if found:
                converters.append((index, functools.partial(_convert, found, column)))
        layout.append(
            _Loaded(
                alias,
                model,
                parent,
                relation,
                len(columns),
                [f.attname for f in fields],
                converters,
            )
        )
        columns += [
            sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(f.column)) for f in fields
        ]
    meta = HrmReport._meta
    name = {
        f: sql.Identifier(meta.get_field(f).column)
        for f in ("id", "status", "sending_since", "last_attempt_at", "attempts", "next_attempt_at")
    }
    statement = sql.SQL(
        "WITH claimed AS (UPDATE {table} SET {status} = %(sending)s, {sending_since} = %(now)s, "
        "{last_attempt_at} = %(now)s, {attempts} = {attempts} + 1 "
        "WHERE {id} = ANY(%(ids)s) AND {status} = %(queued)s AND {next_attempt_at} <= %(now)s "
        "RETURNING *) "
        "SELECT {columns} FROM claimed {joins} ORDER BY claimed.{id}"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(columns),
        joins=sql.SQL(" ").join(joins),
        **name,
    )
    return statement.as_string(), layout


def _convert(converters: list, column, value):
    for converter in converters:
        value = converter(value, column, connection)
    return value


def _db_write(write: Callable[[], _T]) -> _T:
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


def _record_sent(report: HrmReport) -> DeliveryResult:
    # Once renamed, the file is HRM's whatever any other worker thinks: sent wins. One round
    # trip records it, keeps the attempt and tells the hooks what they need.
    record = _db_write(lambda: report_sent_record(report))
    if record.marked:
        attempt_sent_finish(report, record)  # HRM's health, alerts
    return DeliveryResult(Outcome.SENT)


def _record_failure(
    report: HrmReport, error: str, *, permanent: bool, refused: bool = False
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
    updated = _db_write(
        lambda: HrmReport.objects.filter(
            pk=report.pk, status=Status.SENDING, attempts=report.attempts
        ).update(
            status=Status.FAILED if fail else Status.QUEUED,
            next_attempt_at=now + timedelta(seconds=delay),
            sending_since=None,
            last_error=error,
            **refusal,
        )
    )
    if not updated:
        return DeliveryResult(Outcome.SKIPPED)
    attempt_finished(report, outcome="failed" if fail else "retry", error=error)
    logger.log(
        logging.ERROR if fail else logging.WARNING,
        "HRM report %s attempt %s: %s",
        report.pk,
        report.attempts,
        error,
    )
    return DeliveryResult(Outcome.FAILED, 0) if fail else DeliveryResult(Outcome.RETRY, delay)


def _record_refusal(
    report: HrmReport, error: TransportError, transport: Transport
) -> DeliveryResult:
    """A refusal (our key, a permission, the folder) fails the report only when it persists:
    a restarting server refuses for a moment too. A permission refused on this file while HRM
    takes other files (it accepted one over this connection, or takes a test file now) is about
    this file, and fails it at once."""
    if error.file_refusal and (transport.accepted or folder_takes_files(transport)):
        return _record_failure(
            report,
            f"{error.message}. HRM takes other files, so it is this file it refuses; not retrying.",
            permanent=True,
        )
    now = timezone.now()
    since = report.refused_since or now
    count = report.refusals + 1
    minutes = (now - since).total_seconds() / 60
    limit = settings.HRM_REFUSAL_FAIL_AFTER_SECONDS / 60
    over = f"{count} consecutive attempt{'s' if count != 1 else ''} over {minutes:.0f} min"
    if minutes >= limit:
        return _record_failure(
            report,
            f"{error.message}. Refused on {over}; not retrying.",
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
    return _record_failure(
        report,
        f"{error.message}. Refused on {over} so far (a restarting server does this too); it "
        f"fails if this persists for {limit:.0f} min.",
        permanent=False,
        refused=True,
    )


def _clear_staged_and_discard(
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
        _db_write(lambda: HrmReport.objects.filter(pk=report.pk).update(staged_at=None))
    try:
        transport.discard(name)
    except TransportError as error:
        logger.warning("HRM report %s: could not remove %s.part: %s", report.pk, name, error)


@dataclass
class _Job:
    """One claimed report on its way through this attempt."""

    report: HrmReport
    name: str
    data: bytes
    result: DeliveryResult | None = None
    needs_marker: bool = True  # "staged" is not committed yet for this attempt's .part
    part_known: bool = False  # this attempt saw its .part there: it was never renamed
    refusal: TransportError | None = None  # decided once the batch shows what HRM accepted


class _Unreachable(Exception):
    """The server is down or the network is: the rest of the batch would only wait out the same
    timeout one by one."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _build(report: HrmReport) -> tuple[bytes | None, DeliveryResult | None]:
    """A file not built yet: built and validated (stored with the batch's, by ``_build_all``)."""
    try:
        return report_xml_build(report), None
    except ReportInvalid as invalid:
        problems = "; ".join(invalid.problems)
        failure = f"The report was not sent because {problems}."
        return None, _record_failure(report, failure, permanent=True)
    except AttachmentMissing:
        logger.exception("HRM report %s: attachment missing from storage", report.pk)
        failure = "The attached file is missing from storage; it cannot be sent."
        return None, _record_failure(report, failure, permanent=True)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        logger.exception("HRM report %s: could not build the report", report.pk)
        return None, _record_failure(report, _build_failure(error), permanent=False)


def _build_failure(error: Exception) -> str:
    return f"The report could not be built ({type(error).__name__}: {error}); will retry."


def _build_all(reports: list[HrmReport]) -> tuple[list[_Job], dict[int, DeliveryResult]]:
    """Each claimed report's file, encrypted: a retry's as its row keeps it, the others built,
    validated and stored in one statement for the batch before anything is uploaded (every
    attempt then uploads those very bytes). Returns the jobs, and the reports that failed."""
    failures: dict[int, DeliveryResult] = {}
    built: list[tuple[HrmReport, bytes]] = []
    for report in reports:
        if not report.xml:
            xml, failure = _build(report)
            if failure is not None:
                failures[report.pk] = failure
            else:
                built.append((report, xml))
    try:
        reports_xml_keep(built)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        logger.exception("HRM reports %s: could not store the files", [r.pk for r, _ in built])
        for report, _ in built:
            failures[report.pk] = _record_failure(report, _build_failure(error), permanent=False)
    jobs = [
        _Job(
            report,
            remote_name_for(report.transaction_id),
            report_encrypt(bytes(report.xml), settings.HRM_AES_KEY),
        )
        for report in reports
        if report.pk not in failures
    ]
    return jobs, failures


def _transport_failed(job: _Job, error: TransportError, transport: Transport) -> None:
    """Record what a transport error means for this attempt; raise ``_Unreachable`` when the
    rest of the batch should not be tried."""
    report = job.report
    if error.refusal:
        job.refusal = error
        return
    job.result = _record_failure(report, error.message, permanent=error.permanent)
    if job.result.outcome is Outcome.FAILED:
        _clear_staged_and_discard(report, transport, job.name, part_there=job.part_known)
    if not error.permanent:
        raise _Unreachable(error.message)


def _resume(job: _Job, transport: Transport) -> None:
    """What an earlier attempt left decides this one's first step. HRM takes completed files
    away, so the record says what the server cannot."""
    report = job.report
    found = transport.probe(job.name, len(job.data))
    if found is Probe.DELIVERED or (found is Probe.ABSENT and report.staged_at is not None):
        # Renamed by an earlier attempt: still there, or staged and since taken away by HRM.
        job.result = _record_sent(report)
        return
    job.part_known = found is not Probe.ABSENT
    if found is Probe.STAGED:
        job.needs_marker = report.staged_at is None
        return
    transport.stage(job.name, job.data)
    job.part_known = True


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

        if _db_write(mark) != len(ids):
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


def _promote(job: _Job, transport: Transport) -> None:
    try:
        transport.promote(job.name)
    except TransportError as error:
        if not error.rename_unknown:
            _transport_failed(job, error, transport)
            return
        # The reply was lost: look rather than guess. It is staged, so "neither" means taken.
        job.part_known = False
        try:
            found = transport.probe(job.name, len(job.data))
        except TransportError as lost:
            _transport_failed(job, lost, transport)
            return
        if found in (Probe.STAGED, Probe.PARTIAL):
            job.part_known = True
            _transport_failed(job, error, transport)
            return
    job.result = _record_sent(job.report)


def _pending(jobs: list[_Job]) -> list[_Job]:
    return [job for job in jobs if job.result is None and job.refusal is None]


def reports_deliver(report_ids: list[int], transport: Transport) -> dict[int, DeliveryResult]:
    """One delivery attempt for each of ``report_ids`` (typically one message's reports) over
    one connection: one claim; each file built once, encrypted and staged as ``<name>.part``;
    one commit marking them staged; then each renamed and recorded sent as soon as its rename
    returns. A retry starts from what the record and the server say (``_resume``). Whatever goes
    wrong after the claim is recorded on the row, so no report is left "sending" (unless the
    database stays away: then the re-drive finds the row, and its record makes the retry safe).
    """
    results = {report_id: DeliveryResult(Outcome.SKIPPED) for report_id in report_ids}
    jobs, failures = _build_all(reports_claim(report_ids))
    results.update(failures)
    try:
        for job in jobs:
            if job.refusal is not None:
                continue
            report = job.report
            # Only a retry or a re-send can find something an earlier attempt left.
            earlier = report.attempts > 1 or report.resent_at is not None
            try:
                if earlier or report.staged_at is not None:
                    _resume(job, transport)
                else:
                    transport.stage(job.name, job.data)
                    job.part_known = True
            except TransportError as error:
                _transport_failed(job, error, transport)
                if job.refusal is not None and not error.file_refusal:
                    # Our key or the folder: every other report would be refused the same.
                    for rest in _pending(jobs):
                        rest.refusal = error
        for job in _mark_staged(_pending(jobs)):
            _promote(job, transport)
    except _Unreachable as unreachable:
        # The reports not tried count this attempt and retry on their own schedules.
        for job in _pending(jobs):
            job.result = _record_failure(job.report, unreachable.message, permanent=False)
    except (OperationalError, InterfaceError):
        raise  # the database stayed away: the rows stay "sending" for the re-drive
    except Exception as error:
        logger.exception("HRM reports %s: unexpected error during delivery", report_ids)
        failure = f"Unexpected error during the upload ({type(error).__name__}); will retry."
        for job in _pending(jobs):
            job.result = _record_failure(job.report, failure, permanent=False)
    for job in jobs:
        if job.refusal is not None and job.result is None:
            job.result = _record_refusal(job.report, job.refusal, transport)
            if job.result.outcome is Outcome.FAILED:
                _clear_staged_and_discard(
                    job.report, transport, job.name, part_there=job.part_known
                )
        if job.result is not None:
            results[job.report.pk] = job.result
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
        except Exception:
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
            attempts_worker_lost(stuck)  # the lost attempt stays on record
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
