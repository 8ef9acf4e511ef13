"""The record of each delivery attempt, for support: ``attempt_record`` keeps one attempt (when,
how long, which worker, the outcome, the error and its class as the raise site decided it). A
success, the delivery's most frequent record, is written with its attempt in one statement
(``report_sent_record``). ``hrm/delivery/services/recording.py`` calls these; nothing here calls
back into the delivery, HRM's health or the alerts."""

import functools
import logging
import os
import socket
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from psycopg import sql

from hrm.models import ErrorClass, HrmAttempt, HrmHealth, HrmReport

logger = logging.getLogger(__name__)
Outcome = HrmAttempt.Outcome
WORKER_LOST = "The worker stopped during the upload; trying again."
Status = HrmReport.Status


def worker_name() -> str:
    """``celery@host pid 1234`` inside a worker, ``host pid 1234`` elsewhere."""
    try:
        from celery import current_task

        hostname = current_task.request.hostname if current_task else None
    except Exception:  # noqa: BLE001 — no task context
        hostname = None
    return f"{hostname or socket.gethostname()} pid {os.getpid()}"


def attempt_record(
    report: HrmReport, *, outcome: str, error: str = "", error_class: str = ""
) -> HrmAttempt:
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
        error_class=error_class if outcome != Outcome.SENT else "",
        error=error if outcome != Outcome.SENT else "",
    )


@dataclass(frozen=True)
class SentRecord:
    """What ``report_sent_record`` did and saw. ``marked``: this call moved the row to sent and
    kept the attempt (False: it was sent already, and the hooks ran then). ``hrm_was_up``: HRM's
    health was up with no failure streak, so a success has nothing to tell it.
    ``message_may_have_failed``: another part of the message may have failed, so its alert is
    to be checked."""

    marked: bool
    hrm_was_up: bool = False
    message_may_have_failed: bool = True


def report_sent_record(report: HrmReport) -> SentRecord:
    """Record that ``report``'s file was renamed on HRM's server (the row is sent, whatever any
    other worker thinks: sent wins) and keep this attempt, in one statement and one round trip
    on PostgreSQL: the delivery records each report as soon as its rename returns, and this is
    that record. The same statement reads what the hooks after a success need to know (HRM's
    health, the message's failed parts), so a success that changes neither costs nothing more.

    The attempt row goes in with the row's change or not at all (the statement is atomic), and
    nothing in it can be refused: every value is known good (no unique constraint, the report
    exists, the numbers are not negative, the worker's name is cut to its column). Elsewhere
    (the demo's SQLite) the row and the attempt are written one after the other."""
    now = timezone.now()
    started = report.last_attempt_at or report.sending_since or now
    if connection.vendor != "postgresql":
        marked = _report_mark_sent(report, now)
        if marked:
            try:
                attempt_record(report, outcome=Outcome.SENT)
            except Exception:
                logger.exception("HRM report %s: could not record its attempt", report.pk)
        return SentRecord(marked=marked)
    with connection.cursor() as cursor:
        cursor.execute(
            _sent_statement(),
            {
                "id": report.pk,
                "message": report.message_id,
                "sent": Status.SENT,
                "failed": Status.FAILED,
                "up": HrmHealth.State.UP,
                "now": now,
                "number": report.attempts,
                "resend": report.resent_at is not None,
                "started": started,
                "duration": max(0, int((now - started).total_seconds() * 1000)),
                "worker": worker_name()[:200],
                "outcome": Outcome.SENT,
            },
        )
        marked, hrm_was_up, message_may_have_failed = cursor.fetchone()
    return SentRecord(marked, hrm_was_up, message_may_have_failed)


def _report_mark_sent(report: HrmReport, now) -> bool:
    return bool(
        HrmReport.objects.filter(pk=report.pk)
        .exclude(status=Status.SENT)
        .update(
            status=Status.SENT,
            sent_at=now,
            sending_since=None,
            last_error="",
            error_class="",
            refused_since=None,
            refusals=0,
        )
    )


@functools.cache
def _sent_statement() -> str:
    """The row to sent (unless it is), the attempt inserted only if it was, and the health row
    and the message's failed parts as they were when the statement began. Rendered once:
    psycopg would otherwise compose it again on every execute."""

    def names(model, *fields) -> dict[str, sql.Identifier]:
        meta = model._meta
        return {"table": sql.Identifier(meta.db_table)} | {
            field: sql.Identifier(meta.get_field(field).column) for field in fields
        }

    report = names(
        HrmReport,
        *("id", "status", "sent_at", "sending_since", "last_error", "error_class"),
        "refused_since",
        *("refusals", "message"),
    )
    attempt_fields = ("report", "number", "resend", "started_at", "finished_at", "duration_ms")
    attempt_fields += ("worker", "outcome", "error_class", "error")
    attempt = names(HrmAttempt, *attempt_fields)
    health = names(HrmHealth, "id", "state", "consecutive_failures")
    return (
        sql.SQL(
            "WITH sent AS ("
            "UPDATE {report} SET {status} = %(sent)s, {sent_at} = %(now)s, {sending_since} = NULL, "
            "{last_error} = '', {error_class} = '', {refused_since} = NULL, {refusals} = 0 "
            "WHERE {id} = %(id)s AND {status} <> %(sent)s RETURNING {id}), "
            "attempt AS (INSERT INTO {attempt} ({attempt_columns}) "
            "SELECT sent.{id}, %(number)s, %(resend)s, %(started)s, %(now)s, %(duration)s, "
            "%(worker)s, %(outcome)s, '', '' FROM sent) "
            "SELECT EXISTS (SELECT 1 FROM sent), "
            "EXISTS (SELECT 1 FROM {health} WHERE {health_id} = 1 AND {state} = %(up)s "
            "AND {failures} = 0), "
            "EXISTS (SELECT 1 FROM {report} WHERE {message} = %(message)s "
            "AND {status} = %(failed)s)"
        )
        .format(
            report=report["table"],
            attempt=attempt["table"],
            attempt_columns=sql.SQL(", ").join(attempt[field] for field in attempt_fields),
            health=health["table"],
            health_id=health["id"],
            state=health["state"],
            failures=health["consecutive_failures"],
            **{field: report[field] for field in report if field != "table"},
        )
        .as_string()
    )


def attempts_worker_lost(report_ids: list[int]) -> None:
    """The re-drive found these rows stuck in "sending" (their worker died): keep that attempt
    on record before the row is reset. Call just before the reset, while ``sending_since``
    still says when the lost attempt began."""
    now = timezone.now()
    error = WORKER_LOST
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
                error_class=ErrorClass.WORKER,
                error=error,
            )
            for pk, attempts, since, resent_at in HrmReport.objects.filter(
                pk__in=report_ids, status=HrmReport.Status.SENDING
            ).values_list("pk", "attempts", "sending_since", "resent_at")
        )
    except Exception:
        logger.exception("Could not record the lost attempts of %s", report_ids)
