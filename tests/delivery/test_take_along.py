"""A worker's attempt takes other due reports along with its batch (a batch costs the same round
trips to HRM however many reports it carries), within the pipeline's size and bytes, and only
while HRM is answering."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hrm.delivery.connections import transport_get
from hrm.delivery.services.outbox import reports_deliver
from hrm.delivery.services.recording import Outcome
from hrm.delivery.transports import remote_name_for
from hrm.models import HrmHealth, HrmReport
from referrals import services

from ..delivery_fixtures import delivered_files
from ..factories import pdf_upload

Status = HrmReport.Status


@pytest.fixture
def messages(live, hrm_sftp):
    """Three messages of a typed note and a PDF to two stakeholders: four reports each, the
    first message's the longest waiting."""
    posted = [
        services.message_post(
            referral=live.referral,
            author=live.world.specialist,
            text=f"Note {n}.",
            files=[pdf_upload()],
        )
        for n in range(3)
    ]
    for age, message in zip((30, 20, 10), posted, strict=True):
        message.hrm_reports.update(next_attempt_at=timezone.now() - timedelta(seconds=age))
    return posted


def ids(message) -> list[int]:
    return list(message.hrm_reports.order_by("pk").values_list("pk", flat=True))


def names(reports) -> list[str]:
    return sorted(remote_name_for(report.transaction_id) for report in reports)


def test_a_batch_takes_the_longest_waiting_due_reports_along_up_to_the_pipeline(
    messages, hrm_sftp, settings
):
    settings.HRM_DELIVERY_PIPELINE_REPORTS = 10
    first, second, third = messages
    third.hrm_reports.filter(pk=ids(third)[0]).update(next_attempt_at=timezone.now() - timedelta(1))
    not_due = ids(second)[0]
    HrmReport.objects.filter(pk=not_due).update(next_attempt_at=timezone.now() + timedelta(1))

    results = reports_deliver(ids(second)[1:], transport_get(), take_along=True)

    sent = HrmReport.objects.filter(status=Status.SENT)
    # Its own three, then the longest waiting: the third's oldest part, the first message's four,
    # and two of the third's: ten. The part not due yet waits.
    assert set(results) == set(sent.values_list("pk", flat=True))
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert sorted(sent.values_list("pk", flat=True)) == sorted(
        ids(second)[1:] + ids(third)[:3] + ids(first)
    )
    assert delivered_files(hrm_sftp) == names(sent)
    assert HrmReport.objects.get(pk=not_due).status == Status.QUEUED


def test_large_files_are_left_for_another_attempt_beyond_the_pipelines_bytes(
    messages, hrm_sftp, settings
):
    first, second, _ = messages
    pdf = HrmReport.objects.filter(attachment__isnull=False).first().attachment
    settings.HRM_DELIVERY_PIPELINE_BYTES = pdf.size + 1  # room for one PDF beside the notes
    reports_deliver(ids(second), transport_get(), take_along=True)
    taken = HrmReport.objects.filter(status=Status.SENT).exclude(message=second)
    assert taken.filter(attachment__isnull=False).count() == 1
    assert taken.filter(attachment__isnull=True).count() == 4  # the typed notes, no bytes counted


def test_nothing_is_taken_along_while_hrm_is_failing(messages, hrm_sftp):
    first, _, _ = messages
    HrmHealth.objects.create(pk=1, consecutive_failures=1)
    results = reports_deliver(ids(first), transport_get(), take_along=True)
    assert set(results) == set(ids(first))
    assert HrmReport.objects.filter(status=Status.SENT).count() == 4


def test_the_service_alone_delivers_only_what_it_is_given(messages, hrm_sftp):
    first, _, _ = messages
    assert set(reports_deliver(ids(first), transport_get())) == set(ids(first))
    assert HrmReport.objects.filter(status=Status.SENT).count() == 4
