"""A real `celery worker` process, configured as production runs it."""

import pytest
from django.db import connection

from referrals import services

from ..delivery_fixtures import wait_for, worker_environment
from ..processes import start_worker_process, stop_worker

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
