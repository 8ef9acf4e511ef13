"""A worker outlives a Redis restart: it finishes what it was delivering, reconnects and takes
new work, and Send stays quick while Redis is down."""

import time

import pytest

from hrm.delivery.tasks import reports_redrive_task
from hrm.models import HrmReport
from referrals import services

from ..delivery_fixtures import delivered_files, wait_for, worker_environment
from ..processes import log_tail, start_worker_process, stop_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def _sent(message) -> bool:
    return set(message.hrm_reports.values_list("status", flat=True)) == {HrmReport.Status.SENT}


def test_a_worker_survives_a_redis_restart_mid_delivery_and_reconnects(
    live, broker, hrm_sftp, tmp_path
):
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(
        worker_environment(broker, hrm_sftp), log_path, name="restart", concurrency=2
    )
    try:
        hrm_sftp.stall_writes = True
        first = services.message_post(
            referral=live.referral, author=live.world.specialist, text="Before the restart."
        )
        wait_for(hrm_sftp.write_stalled.is_set, timeout=60, message="an upload in progress")
        broker.stop()  # the worker holds the batch's message, unacknowledged
        time.sleep(2)
        broker.start()
        hrm_sftp.stall_writes = False
        wait_for(
            lambda: _sent(first) or worker.poll() is not None,
            timeout=60,
            message=lambda: "the batch under way to finish; log:\n" + log_tail(log_path),
        )
        assert worker.poll() is None, "the worker died:\n" + log_tail(log_path)

        # New work reaches the same worker through the new connection.
        second = services.message_post(
            referral=live.referral, author=live.world.specialist, text="After the restart."
        )
        wait_for(
            lambda: _sent(second) or worker.poll() is not None,
            timeout=90,
            message=lambda: "delivery after the restart; log:\n" + log_tail(log_path),
        )
        assert worker.poll() is None, "the worker died:\n" + log_tail(log_path)
    finally:
        stop_worker(worker, log_path)
    assert "Unrecoverable error" not in log_path.read_text()
    assert len(delivered_files(hrm_sftp)) == 4  # each report exactly once


def test_send_while_redis_is_down_is_quick_and_delivered_once_redis_is_back(
    live, broker, hrm_sftp, tmp_path
):
    broker.stop()
    started = time.monotonic()
    for number in range(3):
        services.message_post(
            referral=live.referral, author=live.world.specialist, text=f"Note {number}."
        )
    # Each Send would otherwise wait about 6 s for the broker (kombu's connection retries).
    assert time.monotonic() - started < 6
    broker.start()
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(worker_environment(broker, hrm_sftp), log_path, name="back")
    try:
        wait_for(
            lambda: (
                reports_redrive_task.delay()
                and HrmReport.objects.filter(status="sent").count() == 6
            ),
            timeout=90,
            interval=1,
            message=lambda: "the re-drive to deliver what was posted; log:\n" + log_tail(log_path),
        )
    finally:
        stop_worker(worker, log_path)
    assert len(delivered_files(hrm_sftp)) == 6
