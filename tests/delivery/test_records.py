"""What the delivery writes per report, in one round trip each: the record that a report was
sent (with its attempt, and what the hooks after it need to know), and its stored file."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hrm.delivery.services.attempts import report_sent_record
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
        record = report_sent_record(report)
    assert len(queries) == 1 and record.marked
    row = HrmReport.objects.get(pk=report.pk)
    assert (row.status, row.sending_since, row.last_error) == (Status.SENT, None, "")
    [attempt] = HrmAttempt.objects.filter(report=report)
    assert (attempt.number, attempt.outcome, attempt.resend) == (1, "sent", False)
    assert attempt.started_at == report.last_attempt_at and attempt.finished_at == row.sent_at
    assert attempt.duration_ms >= 0 and attempt.worker and not attempt.error
    # Recorded already (a lost reply, retried): nothing changes, no second attempt on record.
    assert report_sent_record(report).marked is False
    assert HrmAttempt.objects.filter(report=report).count() == 1
    # Sent wins over whatever the row says (another worker's retry, the re-drive's reset).
    other = claimed[1]
    HrmReport.objects.filter(pk=other.pk).update(status=Status.QUEUED)
    assert report_sent_record(other).marked
    assert HrmReport.objects.get(pk=other.pk).status == Status.SENT


def test_a_sent_record_says_whether_hrm_and_the_message_need_the_hooks(claimed):
    first, second, third = claimed[:3]
    # No health row yet: HRM's health is to be told (it creates the row).
    record = report_sent_record(first)
    assert (record.hrm_was_up, record.message_may_have_failed) == (False, False)
    HrmHealth.objects.create(pk=1)
    HrmReport.objects.filter(pk=third.pk).update(status=Status.FAILED)
    record = report_sent_record(second)
    assert (record.hrm_was_up, record.message_may_have_failed) == (True, True)
    HrmHealth.objects.filter(pk=1).update(consecutive_failures=1)
    assert report_sent_record(claimed[3]).hrm_was_up is False
