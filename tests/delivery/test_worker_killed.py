"""A worker killed with SIGKILL in the middle of an upload: after a restart and the re-drive,
every report is in HRM's drop folder exactly once."""

import pytest

from hrm.models import HrmReport
from hrm.tasks import reports_redrive_task
from referrals import services

from ..delivery_fixtures import delivered_files, wait_for, worker_environment
from ..processes import kill_process_group, start_worker_process

pytestmark = pytest.mark.django_db(transaction=True)


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
        wait_for(hrm_sftp.write_stalled.is_set, message="an upload in progress")
        # The message's two reports travel as one batch: both were claimed, one is mid-upload.
        assert HrmReport.objects.filter(message=message, status="sending").count() == 2
    finally:
        kill_process_group(first)
    assert delivered_files(hrm_sftp) == []  # the half-written .part never counts

    hrm_sftp.stall_writes = False
    second = start_worker_process(
        worker_environment(broker, hrm_sftp), tmp_path / "second.log", name="second"
    )
    try:
        # What beat does every minute: reset the row stuck in "sending", enqueue what is due.
        def redriven_and_sent():
            reports_redrive_task.delay()
            statuses = set(
                HrmReport.objects.filter(message=message).values_list("status", flat=True)
            )
            return statuses == {"sent"}

        wait_for(redriven_and_sent, timeout=60, interval=1, message="delivery after the restart")
    finally:
        second.terminate()
        second.wait(30)
    files = delivered_files(hrm_sftp)
    assert len(files) == 2
    expected = {f"{r.transaction_id}.xml.enc" for r in reports}
    assert set(files) == expected
    # The killed attempt counts for both, then each was sent on its second.
    assert [r.attempts for r in HrmReport.objects.filter(message=message)] == [2, 2]
