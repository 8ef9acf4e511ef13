"""A real `celery worker` process, configured as production runs it."""

import subprocess

import pytest
from django.db import connection

from referrals import services

from ..delivery_fixtures import wait_for, worker_environment
from ..processes import log_tail, start_worker_process, stop_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def worker_backends() -> set[tuple]:
    """The worker's database sessions (it names itself ``hrm-worker``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            # This test database only: other runs on the machine may have workers of their own.
            "SELECT pid, backend_start FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            ["hrm-worker"],
        )
        return set(cursor.fetchall())


def test_a_worker_keeps_its_database_connection_from_one_delivery_to_the_next(
    live, broker, hrm_sftp, tmp_path
):
    # Celery's Django fix-up would otherwise open a new connection for every task.
    environment = worker_environment(broker, hrm_sftp)
    environment["TEST_DATABASE_URL"] += "?application_name=hrm-worker"
    environment["CONN_MAX_AGE"] = "60"
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(environment, log_path, name="reuse")
    try:
        seen = []
        for number in range(3):
            message = services.message_post(
                referral=live.referral, author=live.world.specialist, text=f"Note {number}."
            )
            wait_for(
                lambda message=message: (
                    set(message.hrm_reports.values_list("status", flat=True)) == {"sent"}
                ),
                timeout=60,
                message=f"delivery of message {number}",
            )
            seen.append(worker_backends())
    finally:
        stop_worker(worker, log_path)
    assert len(seen[0]) == 1
    assert seen[0] == seen[1] == seen[2]


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("HRM_AES_KEY", "not-a-hex-key", "HRM_AES_KEY: The HRM encryption key must be 32 hex"),
        ("HRM_AES_KEY", "", "HRM_AES_KEY is not set"),
        ("HRM_SFTP_KNOWN_HOSTS", "/nonexistent/known_hosts", "HRM_SFTP_KNOWN_HOSTS /nonexistent"),
        ("HRM_SFTP_USER", "", "HRM_SFTP_USER is not set"),
    ],
    ids=["malformed-key", "missing-key", "missing-known-hosts", "missing-user"],
)
def test_a_worker_refuses_to_start_with_a_bad_hrm_key_or_connection_setting(
    broker, hrm_sftp, tmp_path, setting, value, said
):
    environment = worker_environment(broker, hrm_sftp) | {setting: value}
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(environment, log_path, name="misconfigured")
    try:
        worker.wait(90)
    except subprocess.TimeoutExpired:
        stop_worker(worker, log_path)
        raise AssertionError(f"the worker started:\n{log_tail(log_path)}") from None
    log = log_path.read_text()
    assert worker.returncode != 0, log
    assert "This worker will not start: " in log and said in log, log
    assert "ready." not in log  # it never took a task
