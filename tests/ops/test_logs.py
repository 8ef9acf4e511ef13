"""Log lines: one JSON object per line with the request's id, and in workers the task's id and
its report ids; the id of a Send's request travels with its delivery task; no line names the
patient."""

import json
import logging
import os
import re
import subprocess
import sys
from logging.config import dictConfig

import pytest
from django.conf import settings as django_settings
from django.test import Client

from hrm.models import HrmReport
from ops.request_context import ContextFilter

from ..delivery_fixtures import wait_for, worker_environment
from ..factories import PATIENT, composed, pdf_upload
from ..processes import REPO, log_tail, stop_worker

PROXY_ID = "4f2a9c0e8b7d6a5f4e3d2c1b0a998877"  # as nginx's $request_id makes them
CELERY_SHUTDOWN_NOTE = re.compile(r"|worker: Warm shutdown \(MainProcess\)")
PATIENT_DATA = [
    PATIENT["patient_first_name"],
    PATIENT["patient_last_name"],
    PATIENT["patient_health_card_number"],
    PATIENT["patient_birth_date"].isoformat(),  # 1961-04-18
    PATIENT["patient_birth_date"].strftime("%Y%m%d"),
    PATIENT["patient_birth_date"].strftime("%d/%m/%Y"),
]


class JsonLines(logging.Handler):
    """Every record of this process, written by the production JSON formatter."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        config = django_settings.LOGGING["formatters"]["json"]
        dictConfig(
            {"version": 1, "incremental": False, "disable_existing_loggers": False,
             "formatters": {"json": config}, "handlers": {}}
        )  # fmt: skip
        factory = config["()"]
        from django.utils.module_loading import import_string

        self.setFormatter(
            import_string(factory)(
                **{k: v for k, v in config.items() if k != "()"},
            )
        )
        self.addFilter(ContextFilter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def captured():
    handler = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(lines: list[str]) -> list[dict]:
    """Each line as its JSON object; fails naming the lines that are not one."""
    records, not_json = [], []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            not_json.append(line)
    assert not_json == [], "lines that are not one JSON object"
    return records


@pytest.mark.django_db
def test_a_request_keeps_the_proxys_id_or_gets_one(world, client_for, captured):
    client = client_for(world.stranger)
    response = client.get("/referrals/999999/", HTTP_X_REQUEST_ID=PROXY_ID)
    assert response.status_code == 404
    assert response["X-Request-ID"] == PROXY_ID
    [not_found] = [r for r in parsed(captured.lines) if r["logger"] == "django.request"]
    assert not_found["request_id"] == PROXY_ID
    assert not_found["level"] == "WARNING" and not_found["message"].startswith("Not Found")
    assert {"time", "task_id", "report_ids"} <= set(not_found)

    # A free-text header is not an id: the request gets one of its own.
    made = client.get("/referrals/999999/", HTTP_X_REQUEST_ID="<script> x").get("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert Client().get("/health/live")["X-Request-ID"] != made


def start_json_worker(environment: dict[str, str], log_path) -> subprocess.Popen:
    """The default and HRM worker as the production units start it: quiet (no banner), logging
    through the settings' JSON configuration."""
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "-Q", "hrm,celery",
         "-P", "prefork", "-c", "1", "--without-mingle", "--without-gossip", "-n", "logs@%h"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={
            **os.environ, **environment, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
            # Said on stderr before logging is set up, and only to root, as tests run here; a
            # unit runs its worker as its own user.
            "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
        },
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
def test_a_send_and_its_delivery_log_json_lines_with_ids_and_no_patient(
    live, broker, hrm_sftp, client_for, captured, tmp_path
):
    log_path = tmp_path / "worker.log"
    environment = {
        **worker_environment(broker, hrm_sftp),
        # The attachment's file, where this process saved it.
        "PRIVATE_MEDIA_ROOT": str(django_settings.PRIVATE_MEDIA_ROOT),
    }
    worker = start_json_worker(environment, log_path)
    try:
        client = client_for(live.world.specialist)
        response = client.post(
            f"/referrals/{live.referral.pk}/messages/",
            composed(
                client, live.referral, text="Consultation letter attached.", files=[pdf_upload()]
            ),
            HTTP_X_REQUEST_ID=PROXY_ID,
        )
        assert response.status_code == 302
        assert response["X-Request-ID"] == PROXY_ID
        message = live.referral.messages.latest("id")
        reports = HrmReport.objects.filter(message=message)
        wait_for(
            lambda: set(reports.values_list("status", flat=True)) == {"sent"},
            timeout=90,
            message=lambda: f"the message's reports sent; the worker's log:\n{log_tail(log_path)}",
        )
    finally:
        stop_worker(worker, log_path)

    worker_lines = log_path.read_text().splitlines()
    # Every line the worker wrote is one JSON object, but for the words Celery prints from its
    # SIGTERM handler, outside logging.
    records = parsed([line for line in worker_lines if not CELERY_SHUTDOWN_NOTE.fullmatch(line)])
    report_ids = set(reports.values_list("pk", flat=True))
    assert len(report_ids) == 4
    in_tasks = [r for r in records if r.get("task_id")]
    assert in_tasks, "the worker logged nothing inside its tasks"
    # The delivery task's lines carry the Send's request id, their task id and report ids.
    delivery = [r for r in in_tasks if r["report_ids"]]
    assert {r["request_id"] for r in delivery} == {PROXY_ID}
    assert set().union(*(r["report_ids"] for r in delivery)) == report_ids
    assert any("succeeded" in r["message"] for r in delivery)

    parsed(captured.lines)  # this process's lines too (the Send's request, the SFTP server)
    everything = "\n".join(worker_lines + captured.lines)
    assert everything.strip()
    for value in PATIENT_DATA:
        assert value not in everything, f"{value!r} appears in a log line"
