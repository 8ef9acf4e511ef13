"""The record of each delivery attempt, for support: ``attempt_record`` keeps one attempt (when,
how long, which worker, the outcome, the error and its class as the raise site decided it). A
success, the delivery's most frequent record, is written with its attempt in one statement
(``reports_sent_record``). ``hrm/delivery/services/recording.py`` calls these; nothing here calls
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
    report: HrmReport, *, outcome: str, error: str = "", error_class: str = "", now=None
) -> HrmAttempt:
    """Keep one attempt: when it started (the claim), how long it took (until ``now``), which
    worker, the outcome, and the error with its class."""
    now = now or timezone.now()
    started = _attempt_start(report, now)
    return HrmAttempt.objects.create(
        report_id=report.pk,
        number=report.attempts,
        resend=report.resent_at is not None,
        started_at=started,
        finished_at=now,
        duration_ms=_duration_ms(started, now),
        worker=worker_name()[:200],
        outcome=outcome,
        error_class=error_class if outcome != Outcome.SENT else "",
        error=error if outcome != Outcome.SENT else "",
    )


@dataclass(frozen=True)
class SentRecord:
    """What ``reports_sent_record`` did and saw for one report. ``marked``: this call moved the
    row to sent and kept the attempt (False: it was sent already, and the hooks ran then).
    ``hrm_was_up``: HRM's health was up with no failure streak, so a success has nothing to tell
    it. ``message_may_have_failed``: another part of the message may have failed, so its alert
    is to be checked."""

    marked: bool
    hrm_was_up: bool
    message_may_have_failed: bool


def reports_sent_record(reports: list[HrmReport]) -> dict[int, SentRecord]:
    """Record that each of ``reports`` had its file renamed on HRM's server (the row is sent,
    whatever any other worker thinks: sent wins) and keep each one's attempt: one batch's
    successes in one statement and one round trip on PostgreSQL. The same statement reads what
    the hooks after a success need to know (HRM's health, each message's failed parts), so a
    success that changes neither costs nothing more.

    The attempt rows go in with the rows' change or not at all (the statement is atomic), and
    nothing in them can be refused: every value is known good (no unique constraint, the
    reports exist, the numbers are not negative, the worker's name is cut to its column).
    Elsewhere (the demo's SQLite) ``reports_sent_record_orm`` writes the same, row by row."""
    if not reports:
        return {}
    if connection.vendor != "postgresql":
        return reports_sent_record_orm(reports)
    now = timezone.now()
    starts = [_attempt_start(report, now) for report in reports]
    with connection.cursor() as cursor:
        cursor.execute(
            _sent_statement(),
            {
                "ids": [report.pk for report in reports],
                "messages": [report.message_id for report in reports],
                "numbers": [report.attempts for report in reports],
                "resends": [report.resent_at is not None for report in reports],
                "starts": starts,
                "durations": [_duration_ms(started, now) for started in starts],
                "sent": Status.SENT,
                "failed": Status.FAILED,
                "up": HrmHealth.State.UP,
                "now": now,
                "worker": worker_name()[:200],
                "outcome": Outcome.SENT,
            },
        )
        return {pk: SentRecord(*flags) for pk, *flags in cursor.fetchall()}


def reports_sent_record_orm(reports: list[HrmReport]) -> dict[int, SentRecord]:
    """``reports_sent_record`` through the ORM, a statement or more per report: SQLite's way,
    and the twin the PostgreSQL statement is tested against (tests/delivery/test_records.py)."""
    now = timezone.now()
    health_up = HrmHealth.objects.filter(
        pk=1, state=HrmHealth.State.UP, consecutive_failures=0
    ).exists()
    failed_messages = set(
        HrmReport.objects.filter(
            message_id__in={report.message_id for report in reports}, status=Status.FAILED
        ).values_list("message_id", flat=True)
    )
    records = {}
    for report in reports:
        marked = bool(
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
        if marked:
            try:
                attempt_record(report, outcome=Outcome.SENT, now=now)
            except Exception:
                logger.exception("HRM report %s: could not record its attempt", report.pk)
        records[report.pk] = SentRecord(marked, health_up, report.message_id in failed_messages)
    return records


def _attempt_start(report: HrmReport, now):
    return report.last_attempt_at or report.sending_since or now


def _duration_ms(started, now) -> int:
    return max(0, int((now - started).total_seconds() * 1000))


@functools.cache
def _sent_statement() -> str:
    """The rows to sent (unless they are), an attempt inserted for each row that was, and the
    health row and each message's failed parts as they were when the statement began. Rendered
    once: psycopg would otherwise compose it again on every execute."""

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
            "WITH batch AS (SELECT * FROM unnest(%(ids)s::bigint[], %(messages)s::bigint[], "
            "%(numbers)s::integer[], %(resends)s::boolean[], %(starts)s::timestamptz[], "
            "%(durations)s::integer[]) AS b(id, message, number, resend, started, duration)), "
            "sent AS ("
            "UPDATE {report} SET {status} = %(sent)s, {sent_at} = %(now)s, {sending_since} = NULL, "
            "{last_error} = '', {error_class} = '', {refused_since} = NULL, {refusals} = 0 "
            "WHERE {id} IN (SELECT id FROM batch) AND {status} <> %(sent)s RETURNING {id}), "
            "attempt AS (INSERT INTO {attempt} ({attempt_columns}) "
            "SELECT batch.id, batch.number, batch.resend, batch.started, %(now)s, "
            "batch.duration, %(worker)s, %(outcome)s, '', '' "
            "FROM batch JOIN sent ON sent.{id} = batch.id), "
            "up AS (SELECT EXISTS (SELECT 1 FROM {health} WHERE {health_id} = 1 "
            "AND {state} = %(up)s AND {failures} = 0) AS up) "
            "SELECT batch.id, sent.{id} IS NOT NULL, up.up, "
            "EXISTS (SELECT 1 FROM {report} WHERE {message} = batch.message "
            "AND {status} = %(failed)s) "
            "FROM batch CROSS JOIN up LEFT JOIN sent ON sent.{id} = batch.id"
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
