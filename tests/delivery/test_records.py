"""What the delivery writes per report, in one round trip each: the record that a report was
sent (with its attempt, and what the hooks after it need to know), and its stored file."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hrm.delivery.services.attempts import reports_sent_record, reports_sent_record_orm
from hrm.delivery.services.claim import reports_claim
from hrm.models import HrmAttempt, HrmHealth, HrmReport
from referrals import services

from ..factories import pdf_upload

Status = HrmReport.Status


def test_a_claim_takes_only_the_due_queued_rows_with_what_they_are_built_from_at_once(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    reports = list(message.hrm_reports.order_by("pk"))
    text, not_due = [report for report in reports if report.attachment_id is None]
    pdf, taken = [report for report in reports if report.attachment_id is not None]
    HrmReport.objects.filter(pk=not_due.pk).update(next_attempt_at=timezone.now() + timedelta(1))
    HrmReport.objects.filter(pk=taken.pk).update(status=Status.SENDING, attempts=1)
    ids = [text.pk, not_due.pk, pdf.pk, taken.pk]
    with CaptureQueriesContext(connection) as queries:
        claimed = reports_claim(ids)
    assert len(queries) == 1 and [report.pk for report in claimed] == sorted([text.pk, pdf.pk])
    loaded = HrmReport.objects.select_related(
        "message__referral", "message__author", "recipient", "attachment"
    ).in_bulk([text.pk, pdf.pk])
    for report in claimed:
        row = loaded[report.pk]
        assert (row.status, row.attempts) == (Status.SENDING, 1)
        assert row.sending_since == row.last_attempt_at is not None

        def columns(instance):
            return [getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields]

        with CaptureQueriesContext(connection) as queries:
            assert columns(report) == columns(row)
            for mine, theirs in (
                (report.message, row.message),
                (report.message.referral, row.message.referral),
                (report.message.author, row.message.author),
                (report.recipient, row.recipient),
            ):
                assert columns(mine) == columns(theirs)
            if row.attachment is None:
                assert report.attachment is None
            else:
                assert columns(report.attachment) == columns(row.attachment)
        assert not queries  # everything came with the claim
    # Claimed already: another worker's claim takes nothing.
    assert reports_claim(ids) == []


@pytest.fixture
def claimed(live):
    """A message's four reports, claimed by this attempt as a worker claims them."""
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    return reports_claim(list(message.hrm_reports.values_list("pk", flat=True)))


def test_a_sent_record_marks_the_row_and_keeps_the_attempt_in_one_round_trip(claimed):
    report = claimed[0]
    with CaptureQueriesContext(connection) as queries:
        record = reports_sent_record([report])[report.pk]
    assert len(queries) == 1 and record.marked
    row = HrmReport.objects.get(pk=report.pk)
    assert (row.status, row.sending_since, row.last_error) == (Status.SENT, None, "")
    [attempt] = HrmAttempt.objects.filter(report=report)
    assert (attempt.number, attempt.outcome, attempt.resend) == (1, "sent", False)
    assert attempt.started_at == report.last_attempt_at and attempt.finished_at == row.sent_at
    assert attempt.duration_ms >= 0 and attempt.worker and not attempt.error
    # Recorded already (a lost reply, retried): nothing changes, no second attempt on record.
    assert reports_sent_record([report])[report.pk].marked is False
    assert HrmAttempt.objects.filter(report=report).count() == 1
    # Sent wins over whatever the row says (another worker's retry, the re-drive's reset).
    other = claimed[1]
    HrmReport.objects.filter(pk=other.pk).update(status=Status.QUEUED)
    assert reports_sent_record([other])[other.pk].marked
    assert HrmReport.objects.get(pk=other.pk).status == Status.SENT


def test_one_batch_is_recorded_sent_in_one_statement(claimed):
    with CaptureQueriesContext(connection) as queries:
        records = reports_sent_record(claimed)
    assert len(queries) == 1
    assert set(records) == {report.pk for report in claimed}
    assert all(record.marked for record in records.values())
    assert set(HrmReport.objects.values_list("status", flat=True)) == {Status.SENT}
    assert sorted(HrmAttempt.objects.values_list("report_id", flat=True)) == sorted(records)


def _written(reports) -> list:
    """What a sent record leaves, without the times it was written at."""
    rows = HrmReport.objects.filter(pk__in=[r.pk for r in reports]).order_by("pk")
    attempts = HrmAttempt.objects.filter(report__in=reports).order_by("report_id")
    return [
        list(rows.values_list("status", "sending_since", "last_error", "refusals")),
        list(attempts.values_list("report_id", "number", "resend", "started_at", "outcome")),
        [rows.get(pk=attempt.report_id).sent_at == attempt.finished_at for attempt in attempts],
    ]


@pytest.mark.parametrize("record", [reports_sent_record, reports_sent_record_orm])
def test_the_statement_and_its_orm_twin_write_and_answer_the_same(claimed, record):
    """On PostgreSQL, the one-statement record and the ORM's (SQLite's way) agree: the rows, the
    attempts, and what each says the hooks need, whether a part failed or was sent already."""
    first, second, third, fourth = claimed
    HrmHealth.objects.create(pk=1)
    HrmReport.objects.filter(pk=fourth.pk).update(status=Status.FAILED)
    HrmReport.objects.filter(pk=third.pk).update(status=Status.SENT)
    HrmReport.objects.filter(pk=second.pk).update(resent_at=timezone.now())
    second.resent_at = timezone.now()
    records = record([first, second, third])
    assert {pk: tuple(vars(r).values()) for pk, r in records.items()} == {
        first.pk: (True, True, True),
        second.pk: (True, True, True),
        third.pk: (False, True, True),  # sent already: marked by nobody now
    }
    status, attempts, same_time = _written([first, second, third])
    assert status[:2] == [(Status.SENT, None, "", 0)] * 2
    assert status[2][1] is not None  # sent already: left as it was
    assert attempts == [
        (first.pk, 1, False, first.last_attempt_at, "sent"),
        (second.pk, 1, True, second.last_attempt_at, "sent"),
    ]
    assert same_time == [True, True]


def test_a_sent_record_says_whether_hrm_and_the_message_need_the_hooks(claimed):
    first, second, third = claimed[:3]
    # No health row yet: HRM's health is to be told (it creates the row).
    record = reports_sent_record([first])[first.pk]
    assert (record.hrm_was_up, record.message_may_have_failed) == (False, False)
    HrmHealth.objects.create(pk=1)
    HrmReport.objects.filter(pk=third.pk).update(status=Status.FAILED)
    record = reports_sent_record([second])[second.pk]
    assert (record.hrm_was_up, record.message_may_have_failed) == (True, True)
    HrmHealth.objects.filter(pk=1).update(consecutive_failures=1)
    assert reports_sent_record([claimed[3]])[claimed[3].pk].hrm_was_up is False
