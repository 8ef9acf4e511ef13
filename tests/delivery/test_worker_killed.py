"""Workers killed with SIGKILL in the middle of a delivery, against a server that takes each
completed file away as HRM does: after a restart and the re-drive, HRM has each report exactly
once."""

import pytest

from hrm.delivery.tasks import reports_redrive_task
from hrm.models import HrmReport
from referrals import services

from ..delivery_fixtures import delivered_files, part_files, wait_for, worker_environment
from ..processes import kill_process_group, log_tail, start_worker_process, stop_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def _statuses(message) -> set[str]:
    return set(HrmReport.objects.filter(message=message).values_list("status", flat=True))


def _restart_and_redrive(message, broker, server, log_path) -> None:
    """Start a fresh worker and do what beat does every minute until every report is sent."""
    worker = start_worker_process(worker_environment(broker, server), log_path, name="second")
    try:

        def redriven_and_sent():
            reports_redrive_task.delay()
            return _statuses(message) == {"sent"}

        wait_for(
            redriven_and_sent,
            timeout=90,
            interval=1,
            message=lambda: "delivery after the restart; the worker's log:\n" + log_tail(log_path),
        )
    finally:
        stop_worker(worker, log_path)


def test_a_worker_killed_mid_upload_delivers_each_report_exactly_once(
    live, broker, hrm_sftp, tmp_path
):
    hrm_sftp.stall_writes = True
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen today."
    )
    reports = list(message.hrm_reports.all())
    assert len(reports) == 2
    first = start_worker_process(
        worker_environment(broker, hrm_sftp), tmp_path / "first.log", name="first"
    )
    try:
        wait_for(hrm_sftp.write_stalled.is_set, timeout=60, message="an upload in progress")
        # The message's two reports travel as one batch: both were claimed, one is mid-upload.
        assert HrmReport.objects.filter(message=message, status="sending").count() == 2
    finally:
        kill_process_group(first)
    assert delivered_files(hrm_sftp) == []  # the half-written .part never counts

    hrm_sftp.stall_writes = False
    _restart_and_redrive(message, broker, hrm_sftp, tmp_path / "second.log")
    assert delivered_files(hrm_sftp) == sorted(f"{r.transaction_id}.xml.enc" for r in reports)
    assert part_files(hrm_sftp) == []
    # The killed attempt counts for both, then each was sent on its second.
    assert [r.attempts for r in HrmReport.objects.filter(message=message)] == [2, 2]


def test_a_worker_killed_between_a_rename_and_its_record_does_not_deliver_twice(
    live, broker, hrm_sftp, tmp_path
):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen today."
    )
    reports = list(message.hrm_reports.all())
    first = start_worker_process(
        worker_environment(broker, hrm_sftp), tmp_path / "first.log", name="first"
    )
    killed = []

    def kill_the_worker(name):
        # On the server, once the rename is done and before its reply: HRM takes the file at
        # once, and the worker never learns the rename happened.
        kill_process_group(first)
        killed.append(name)

    hrm_sftp.after_rename = kill_the_worker
    try:
        wait_for(lambda: killed, timeout=60, message="a rename by the first worker")
    finally:
        kill_process_group(first)
    # Renamed, and already taken away (the other rename, sent with it, may have landed too
    # before the kill did).
    taken = delivered_files(hrm_sftp)
    assert killed[0] in taken and len(taken) == len(set(taken))
    assert _statuses(message) == {"sending"}  # nothing recorded it

    _restart_and_redrive(message, broker, hrm_sftp, tmp_path / "second.log")
    assert delivered_files(hrm_sftp) == sorted(f"{r.transaction_id}.xml.enc" for r in reports)
    assert part_files(hrm_sftp) == []
