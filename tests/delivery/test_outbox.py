"""The outbox state machine, one attempt at a time, against the real SFTP server on loopback."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from hrm.delivery.connections import transport_get
from hrm.delivery.services.outbox import report_deliver, reports_deliver, reports_redrive
from hrm.delivery.services.queue import report_resend
from hrm.delivery.services.recording import Outcome
from hrm.delivery.tasks import reports_redrive_task
from hrm.delivery.transports import remote_name_for
from hrm.models import ErrorClass, HrmReport
from hrm.reports.crypto import report_decrypt
from referrals import services
from sandbox.reading import hrm_file_read

from ..delivery_fixtures import AES_KEY, delivered_bytes, delivered_files
from ..factories import pdf_upload

Status = HrmReport.Status


@pytest.fixture
def reports(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    return list(message.hrm_reports.order_by("id"))


def deliver(report):
    return report_deliver(report.pk, transport_get())


def test_a_report_is_uploaded_encrypted_and_marked_sent(reports, hrm_sftp):
    report = reports[0]
    assert deliver(report).outcome is Outcome.SENT
    report.refresh_from_db()
    assert report.status == Status.SENT and report.attempts == 1 and report.sent_at
    [name] = delivered_files(hrm_sftp)
    plain = report_decrypt(delivered_bytes(hrm_sftp, name), AES_KEY)
    assert plain == bytes(report.xml)
    assert hrm_file_read(plain).message_unique_id == report.transaction_id


def test_a_sent_report_is_not_sent_again(reports, hrm_sftp):
    deliver(reports[0])
    assert deliver(reports[0]).outcome is Outcome.SKIPPED
    assert len(delivered_files(hrm_sftp)) == 1


def test_server_down_is_retried_later(reports, hrm_sftp):
    hrm_sftp.stop()
    result = deliver(reports[0])
    assert result.outcome is Outcome.RETRY and result.retry_in > 0
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert report.status == Status.QUEUED and report.attempts == 1
    assert report.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert "refused the connection" in report.last_error
    # Not due yet: a second attempt right away is skipped.
    assert deliver(report).outcome is Outcome.SKIPPED


def test_an_authentication_refusal_fails_only_once_it_has_persisted(reports, hrm_sftp, caplog):
    hrm_sftp.refuse_auth = True
    assert deliver(reports[0]).outcome is Outcome.RETRY
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert (report.status, report.refusals) == (Status.QUEUED, 1) and report.refused_since
    assert "refused the key" in report.last_error
    assert "it fails if this persists for 30 min" in report.last_error
    assert any(
        r.levelname == "WARNING" and "HRM refusal persisting" in r.getMessage()
        for r in caplog.records
    )
    # Still refused 31 minutes after the first refusal: now it fails, and says why.
    HrmReport.objects.filter(pk=report.pk).update(
        refused_since=timezone.now() - timedelta(minutes=31), next_attempt_at=timezone.now()
    )
    assert deliver(report).outcome is Outcome.FAILED
    report.refresh_from_db()
    assert report.status == Status.FAILED and report.refusals == 2
    assert "Refused on 2 consecutive attempts over 31 min; not retrying." in report.last_error
    assert any(
        r.levelname == "ERROR" and "refused the key" in r.getMessage() for r in caplog.records
    )


def test_a_folder_that_refuses_every_file_asks_for_its_permissions_not_a_recipient(
    reports, hrm_sftp
):
    hrm_sftp.read_only = True  # the account may not write in its folder: no file is taken
    assert deliver(reports[0]).outcome is Outcome.RETRY
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert "; ask OntarioMD to check the account's folder permissions. Refused on 1" in (
        report.last_error
    )
    HrmReport.objects.filter(pk=report.pk).update(
        refused_since=timezone.now() - timedelta(minutes=31), next_attempt_at=timezone.now()
    )
    assert deliver(report).outcome is Outcome.FAILED
    report.refresh_from_db()
    assert "ask OntarioMD to check the account's folder permissions" in report.last_error
    assert "this file only" not in report.last_error and "recipient" not in report.last_error
    assert report.error_class == ErrorClass.PERMISSION


def test_a_server_restart_that_refuses_the_key_once_never_fails_the_report(reports, hrm_sftp):
    hrm_sftp.stop()
    assert deliver(reports[0]).outcome is Outcome.RETRY
    hrm_sftp.refuse_auth_once = True  # the restarted server has not loaded its keys yet
    hrm_sftp.start()
    HrmReport.objects.filter(pk=reports[0].pk).update(next_attempt_at=timezone.now())
    assert deliver(reports[0]).outcome is Outcome.RETRY
    HrmReport.objects.filter(pk=reports[0].pk).update(next_attempt_at=timezone.now())
    assert deliver(reports[0]).outcome is Outcome.SENT
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert (report.status, report.refusals, report.refused_since) == (Status.SENT, 0, None)
    assert len(delivered_files(hrm_sftp)) == 1


def test_another_error_between_refusals_starts_the_count_again(reports, hrm_sftp):
    hrm_sftp.refuse_auth = True
    deliver(reports[0])
    hrm_sftp.stop()
    HrmReport.objects.filter(pk=reports[0].pk).update(next_attempt_at=timezone.now())
    deliver(reports[0])
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert (report.refusals, report.refused_since) == (0, None)


def test_retries_stop_after_the_age_limit(reports, hrm_sftp, settings):
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 60
    HrmReport.objects.filter(pk=reports[0].pk).update(
        delivery_started_at=timezone.now() - timedelta(seconds=61)
    )
    hrm_sftp.stop()
    assert deliver(reports[0]).outcome is Outcome.FAILED
    report = HrmReport.objects.get(pk=reports[0].pk)
    assert report.status == Status.FAILED
    assert report.last_error.startswith("Gave up after 1 attempt over 0.0 hours. Last error:")


def test_retries_stop_after_the_attempt_limit(reports, hrm_sftp, settings):
    settings.HRM_DELIVERY_MAX_ATTEMPTS = 2
    hrm_sftp.stop()
    assert deliver(reports[0]).outcome is Outcome.RETRY
    HrmReport.objects.filter(pk=reports[0].pk).update(next_attempt_at=timezone.now())
    assert deliver(reports[0]).outcome is Outcome.FAILED
    assert "Gave up after 2 attempts" in HrmReport.objects.get(pk=reports[0].pk).last_error


def test_resend_queues_the_same_file_under_the_same_transaction_id(
    live, reports, hrm_sftp, settings
):
    settings.HRM_REFUSAL_FAIL_AFTER_SECONDS = 0
    hrm_sftp.refuse_auth = True
    deliver(reports[0])
    failed = HrmReport.objects.get(pk=reports[0].pk)
    xml, transaction_id = bytes(failed.xml), failed.transaction_id
    hrm_sftp.refuse_auth = False
    assert report_resend(report=failed, by=live.world.specialist)
    resent = HrmReport.objects.get(pk=failed.pk)
    assert resent.status == Status.QUEUED and resent.resent_by == live.world.specialist
    assert deliver(resent).outcome is Outcome.SENT
    resent.refresh_from_db()
    assert (bytes(resent.xml), resent.transaction_id) == (xml, transaction_id)
    [name] = delivered_files(hrm_sftp)
    assert (
        hrm_file_read(report_decrypt(delivered_bytes(hrm_sftp, name), AES_KEY)).message_unique_id
        == transaction_id
    )


def test_only_failed_reports_are_resent(live, reports):
    assert report_resend(report=reports[0], by=live.world.specialist) is False


def test_only_a_retry_or_a_re_send_looks_for_a_file_an_earlier_attempt_delivered(
    live, reports, hrm_sftp
):
    name = remote_name_for(reports[0].transaction_id)
    earlier = hrm_sftp.inbox / name
    earlier.write_bytes(b"delivered by an earlier attempt")  # not taken yet by HRM
    # A first attempt does not ask (no earlier attempt exists): its upload takes the name.
    assert deliver(reports[0]).outcome is Outcome.SENT
    assert delivered_files(hrm_sftp) == [name]
    # A retry (second attempt) and a re-send find the file and upload nothing.
    earlier.write_bytes(b"delivered by an earlier attempt")
    HrmReport.objects.filter(pk=reports[0].pk).update(status=Status.QUEUED, staged_at=None)
    assert deliver(reports[0]).outcome is Outcome.SENT
    HrmReport.objects.filter(pk=reports[0].pk).update(status=Status.FAILED, staged_at=None)
    assert report_resend(report=reports[0], by=live.world.specialist)
    assert deliver(reports[0]).outcome is Outcome.SENT
    assert earlier.read_bytes() == b"delivered by an earlier attempt"
    assert delivered_files(hrm_sftp) == [name]


def test_a_dropped_connection_mid_upload_leaves_no_delivered_file(reports, hrm_sftp):
    hrm_sftp.drop_after(100)
    assert deliver(reports[1]).outcome is Outcome.RETRY
    assert delivered_files(hrm_sftp) == []
    assert HrmReport.objects.get(pk=reports[1].pk).staged_at is None
    HrmReport.objects.filter(pk=reports[1].pk).update(next_attempt_at=timezone.now())
    assert deliver(reports[1]).outcome is Outcome.SENT
    assert len(delivered_files(hrm_sftp)) == 1


def test_redrive_picks_up_rows_never_enqueued_and_rows_stuck_sending(reports, settings):
    settings.HRM_SENDING_STALE_SECONDS = 60
    stuck = reports[1]
    HrmReport.objects.filter(pk=stuck.pk).update(
        status=Status.SENDING, sending_since=timezone.now() - timedelta(seconds=61), attempts=1
    )
    HrmReport.objects.filter(pk=reports[2].pk).update(status=Status.SENT)
    redriven = reports_redrive()
    assert sorted(redriven) == sorted([reports[0].pk, stuck.pk, reports[3].pk])
    stuck.refresh_from_db()
    assert stuck.status == Status.QUEUED and stuck.attempts == 1


def test_redrive_leaves_recent_sending_rows_alone(reports, settings):
    settings.HRM_SENDING_STALE_SECONDS = 60
    HrmReport.objects.filter(pk=reports[0].pk).update(
        status=Status.SENDING, sending_since=timezone.now()
    )
    assert reports[0].pk not in reports_redrive()


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_running_twice_at_once_uploads_once(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    report = message.hrm_reports.first()
    barrier = threading.Barrier(2)
    outcomes = []

    def run():
        from hrm.delivery.connections import _build

        transport = _build()  # each worker process has its own connection
        barrier.wait()
        try:
            outcomes.append(report_deliver(report.pk, transport).outcome)
        finally:
            transport.close()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == sorted([Outcome.SENT, Outcome.SKIPPED])
    assert len(delivered_files(hrm_sftp)) == 1
    assert HrmReport.objects.get(pk=report.pk).attempts == 1


def test_a_task_run_in_its_callers_transaction_leaves_the_connection_alone(reports):
    # Workers drop stale connections around each task; a task run eagerly (``apply()``) shares
    # its caller's connection, here inside the test's transaction, which must survive it.
    reports_redrive_task.apply()
    assert HrmReport.objects.filter(status=Status.QUEUED).count() == 4


def test_a_missing_attachment_fails_with_a_clear_error_instead_of_hanging(reports):
    pdf_report = next(r for r in reports if r.attachment_id)
    pdf_report.attachment.file.storage.delete(pdf_report.attachment.file.name)
    assert deliver(pdf_report).outcome is Outcome.FAILED
    failed = HrmReport.objects.get(pk=pdf_report.pk)
    assert failed.status == Status.FAILED
    assert failed.last_error == "The attached file is missing from storage; it cannot be sent."


def test_a_messages_reports_go_together_over_one_connection(reports, hrm_sftp):
    results = reports_deliver([r.pk for r in reports], transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert len(delivered_files(hrm_sftp)) == 4
    assert hrm_sftp.connections_made == 1
    assert set(HrmReport.objects.values_list("status", "attempts")) == {(Status.SENT, 1)}


def test_an_unreachable_server_stops_the_batch_and_every_report_retries(reports, hrm_sftp):
    hrm_sftp.stop()
    results = reports_deliver([r.pk for r in reports], transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.RETRY}
    rows = HrmReport.objects.all()
    assert {(r.status, r.attempts) for r in rows} == {(Status.QUEUED, 1)}
    assert all("refused the connection" in r.last_error for r in rows)


def test_a_refused_recipient_does_not_hold_up_the_others(live, reports, hrm_sftp):
    hrm_sftp.refuse_deliver_to("N1234567")
    reports_deliver([r.pk for r in reports], transport_get())
    statuses = dict(HrmReport.objects.values_list("deliver_to_user_id", "status").distinct())
    # HRM accepted the others over the same connection: the refusal is about these files.
    assert statuses == {"D12345": Status.SENT, "N1234567": Status.FAILED}
    assert len(delivered_files(hrm_sftp)) == 2
    failed = HrmReport.objects.filter(status=Status.FAILED).first()
    assert failed.last_error.endswith(
        "HRM takes other files, so it refuses this file only, not the folder: most often HRM "
        "does not know its recipient CNO 1234567; not retrying."
    )
    # Advice about the account's folder would contradict what the error just established.
    assert "folder permissions" not in failed.last_error
    assert failed.error_class == ErrorClass.RECIPIENT


def test_a_refused_recipient_alone_on_a_new_connection_fails_at_once(live, reports, hrm_sftp):
    # Nothing was accepted over this connection yet, but the folder takes a test file: the
    # refusal is about these files (HRM does not know the recipient), not our account.
    hrm_sftp.refuse_deliver_to("N1234567")
    refused = [r.pk for r in reports if r.deliver_to_user_id == "N1234567"]
    results = reports_deliver(refused, transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.FAILED}
    rows = HrmReport.objects.filter(pk__in=refused)
    assert {row.status for row in rows} == {Status.FAILED}
    assert all("it refuses this file only, not the folder" in row.last_error for row in rows)
    assert not any("folder permissions" in row.last_error for row in rows)
    assert [p.name for p in hrm_sftp.inbox.iterdir()] == []  # the test file is gone too


def test_a_folder_that_refuses_every_file_retries_until_it_persists(live, reports, hrm_sftp):
    # A read-only folder refuses the test file too: our account, or a server coming back.
    hrm_sftp.read_only = True
    results = reports_deliver([r.pk for r in reports[:1]], transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.RETRY}
    assert not HrmReport.objects.filter(status=Status.FAILED).exists()
