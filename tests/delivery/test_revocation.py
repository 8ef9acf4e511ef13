"""Revoking a sender stops delivery of their reports not sent yet: queued, retrying, or in a
worker's hands. They fail with that reason, in clear words on the message's details."""

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from hrm.delivery.connections import transport_get
from hrm.delivery.services.outbox import report_deliver, reports_deliver
from hrm.delivery.services.recording import Outcome
from hrm.models import HrmReport, SenderApproval
from hrm.senders import services as sender_services
from referrals import services

from ..delivery_fixtures import delivered_files, wait_for
from ..factories import composed, make_user, pdf_upload

Status = HrmReport.Status
REASON = "Not sent: Support revoked HRM sending for François Lee at St. Brigid's Hospital"


@pytest.fixture
def support(db):
    return make_user(username="support.sam", is_staff=True, is_superuser=True, first_name="Sam")


@pytest.fixture
def message(live, hrm_sftp):
    return services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )


def revoke(live, support):
    approval = SenderApproval.objects.get(user=live.world.specialist)
    return sender_services.sender_approval_revoke(
        approval=approval, actor=support, note="Left the clinic."
    )


def test_queued_and_retrying_reports_fail_when_the_sender_is_revoked(
    live, message, hrm_sftp, support
):
    reports = list(message.hrm_reports.order_by("id"))
    assert len(reports) == 4
    # One report is retrying: HRM's server was down on its first attempt.
    hrm_sftp.stop()
    assert report_deliver(reports[0].pk, transport_get()).outcome is Outcome.RETRY
    hrm_sftp.start()

    revoke(live, support)

    for report in HrmReport.objects.filter(message=message):
        assert report.status == Status.FAILED
        assert report.last_error.startswith(REASON)
        assert "“Left the clinic.”" in report.last_error
    # Due or not, nothing goes out.
    HrmReport.objects.filter(message=message).update(next_attempt_at=timezone.now())
    results = reports_deliver([r.pk for r in reports], transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.SKIPPED}
    assert delivered_files(hrm_sftp) == []


def test_a_report_in_a_workers_hands_at_revocation_fails_on_its_next_attempt(
    live, message, hrm_sftp, support
):
    report = message.hrm_reports.order_by("id").first()
    # A worker holds it (claimed, uploading) when support revokes: the revoke leaves it alone...
    HrmReport.objects.filter(pk=report.pk).update(status=Status.SENDING, attempts=1)
    revoke(live, support)
    assert HrmReport.objects.get(pk=report.pk).status == Status.SENDING
    # ...its attempt ends in a retry, and the retry finds the sender revoked.
    HrmReport.objects.filter(pk=report.pk).update(
        status=Status.QUEUED, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert report_deliver(report.pk, transport_get()).outcome is Outcome.FAILED
    report.refresh_from_db()
    assert report.status == Status.FAILED and report.last_error.startswith(REASON)
    assert delivered_files(hrm_sftp) == []


def test_a_revoked_or_outdated_approval_stops_the_worker_whatever_changed_it(
    live, message, hrm_sftp
):
    # The approval stops counting without a revoke (the sender changed their UPI): the worker
    # does not send either.
    specialist = live.world.specialist
    specialist.hrm_upi = "UPI-NEW"
    specialist.save()
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    results = reports_deliver(ids, transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.FAILED}
    assert delivered_files(hrm_sftp) == []
    error = HrmReport.objects.get(pk=ids[0]).last_error
    assert "is no longer approved: their UPI, name or Professional ID changed" in error


def test_other_reports_still_go(live, message, hrm_sftp):
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    results = reports_deliver(ids, transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert len(delivered_files(hrm_sftp)) == 4


def test_the_reason_is_on_the_messages_details(live, message, support, client_for):
    revoke(live, support)
    page = client_for(live.world.specialist).get(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/"
    )
    assert page.status_code == 200
    assert REASON in html.unescape(page.content.decode())


@pytest.mark.django_db(transaction=True)
def test_through_the_real_worker_a_revoke_during_an_outage_delivers_nothing(
    live, worker, hrm_sftp, support, client_for
):
    """HRM is down, the worker retries; support revokes; HRM comes back: nothing is delivered,
    and every report fails with the reason, whichever state each was in at the revoke."""
    hrm_sftp.stop()
    client = client_for(live.world.specialist)
    response = client.post(
        f"/referrals/{live.referral.pk}/messages/",
        composed(client, live.referral, text="Retry me", files=[]),
    )
    assert response.status_code == 302
    message = live.referral.messages.latest("id")
    wait_for(
        lambda: all(r.attempts >= 1 for r in HrmReport.objects.filter(message=message)),
        message="a first attempt while HRM is down",
    )
    revoke(live, support)
    hrm_sftp.start()
    wait_for(
        lambda: set(message.hrm_reports.values_list("status", flat=True)) == {Status.FAILED},
        message="every report failed",
    )
    for error in message.hrm_reports.values_list("last_error", flat=True):
        assert error.startswith(REASON)
    assert delivered_files(hrm_sftp) == []
