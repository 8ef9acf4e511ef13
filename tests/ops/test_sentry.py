"""Error reports to Sentry carry the error's kind and place, never patient data: events are
captured by a local transport, or by a stand-in for Sentry on loopback for a worker process (no
network)."""

import gzip
import http.server
import json
import logging
import os
import subprocess
import sys
import threading

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from config.celery import app as celery_app
from ops.sentry import REMOVED, scrub_breadcrumb, scrub_event, sentry_init

from ..delivery_fixtures import wait_for, worker_environment
from ..factories import PATIENT, composed
from ..processes import REPO, log_tail, stop_worker

REQUEST_ID = "0123456789abcdef0123456789abcdef"
NAME = PATIENT["patient_last_name"]
CARD = PATIENT["patient_health_card_number"]
BORN = PATIENT["patient_birth_date"].isoformat()


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def transport():
    transport = CapturingTransport()
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)


def test_the_scrubber_removes_every_place_patient_data_can_ride(settings):
    event = {
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "value": f"Key (health_card)=({CARD}) already exists.",
                    "stacktrace": {
                        "frames": [
                            {"function": "message_post", "lineno": 12, "vars": {"name": NAME}}
                        ]
                    },
                }
            ]
        },
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"born": BORN}}]}}]},
        "request": {
            "url": f"https://ereferral.example.org/directory/?q={NAME}",
            "method": "POST",
            "data": {"text": f"{NAME} born {BORN}"},
            "query_string": f"q={NAME}",
            "cookies": {"__Secure-sessionid": "secret"},
            "headers": {"Cookie": "x", "Referer": f"/?q={NAME}", "User-Agent": "Firefox"},
            "env": {"REMOTE_ADDR": "192.0.2.1"},
        },
        "logentry": {"message": "Patient %s", "params": [NAME], "formatted": f"Patient {NAME}"},
        "extra": {"patient": NAME},
        "user": {"id": 7, "email": "dr.lee@example.org", "username": "dr.lee"},
        "contexts": {"runtime": {"name": "CPython"}, "patient": {"card": CARD}},
        "breadcrumbs": {
            "values": [{"category": "query", "message": f"SELECT '{NAME}'", "data": {"c": CARD}}]
        },
    }
    scrubbed = scrub_event(event)
    text = json.dumps(scrubbed)
    for value in (NAME, CARD, BORN, "dr.lee", "secret", "192.0.2.1"):
        assert value not in text
    exception = scrubbed["exception"]["values"][0]
    assert exception["type"] == "IntegrityError" and exception["value"] == REMOVED
    assert exception["stacktrace"]["frames"][0] == {"function": "message_post", "lineno": 12}
    assert scrubbed["request"]["url"] == "https://ereferral.example.org/directory/"
    assert scrubbed["request"]["headers"] == {"User-Agent": "Firefox"}
    assert scrubbed["logentry"] == {"message": "Patient %s"}
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["contexts"] == {"runtime": {"name": "CPython"}}
    assert scrub_breadcrumb({"category": "x", "message": NAME}) == {
        "category": "x",
        "message": REMOVED,
    }


def _post_failing_message(monkeypatch, live, client_for):
    """A Send that fails inside the service, with the patient in its locals, its error message,
    a log line before it, the request body and the query string."""
    from referrals import views

    def message_post(*, referral, **kwargs):
        patient = f"{referral.patient_last_name} {referral.patient_health_card_number}"
        logging.getLogger("referrals").warning("About to fail for %s", patient)
        raise RuntimeError(f"could not post for {patient}, born {referral.patient_birth_date}")

    monkeypatch.setattr(views.services, "message_post", message_post)
    client = client_for(live.world.specialist)
    client.raise_request_exception = False
    response = client.post(
        f"/referrals/{live.referral.pk}/messages/?about={NAME}",
        composed(client, live.referral, text=f"Results for {NAME}, {CARD}, born {BORN}."),
        HTTP_X_REQUEST_ID=REQUEST_ID,
    )
    assert response.status_code == 500


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated")
def test_a_captured_event_from_a_failing_send_names_no_patient(
    live, client_for, transport, monkeypatch
):
    # The worst case: every collection Sentry offers turned on, the scrubber alone in the way.
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=transport,
        send_default_pii=True,
        include_local_variables=True,
        max_request_body_size="always",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )
    _post_failing_message(monkeypatch, live, client_for)
    [event] = transport.events
    text = json.dumps(event, default=str)
    for value in (NAME, CARD, BORN, "1961", PATIENT["patient_first_name"]):
        assert value not in text, value
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert any(f["function"] == "message_post" for f in exception["stacktrace"]["frames"])
    assert event["tags"]["request_id"] == REQUEST_ID


@pytest.mark.django_db
def test_the_products_sentry_settings_report_a_failing_send(
    live, client_for, transport, monkeypatch
):
    assert sentry_init("", transport=transport) is False
    assert sentry_init("https://public@sentry.invalid/1", transport=transport) is True
    _post_failing_message(monkeypatch, live, client_for)
    [event] = transport.events
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    assert event["tags"]["request_id"] == REQUEST_ID
    text = json.dumps(event, default=str)
    for value in (NAME, CARD, BORN):
        assert value not in text, value


class _Collector(http.server.BaseHTTPRequestHandler):
    """Sentry's ingestion, on loopback: keeps each envelope's events."""

    events: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        envelope = Envelope.deserialize(body)
        if envelope.get_event() is not None:
            self.events.append(envelope.get_event())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_collector():
    _Collector.events = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
def test_a_worker_process_reports_a_failing_task_scrubbed(
    broker, hrm_sftp, sentry_collector, tmp_path
):
    port = sentry_collector.server_address[1]
    environment = {
        **worker_environment(broker, hrm_sftp),
        "SENTRY_DSN": f"http://public@127.0.0.1:{port}/1",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery",
         "-I", "tests.ops.failing_tasks", "-P", "prefork", "-c", "1", "--without-mingle",
         "--without-gossip", "-n", "sentry@%h"],
        cwd=REPO, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        celery_app.send_task("tests.ops.fail_about_a_patient", args=([7, 8],))
        wait_for(
            lambda: _Collector.events,
            timeout=90,
            message=lambda: f"the task's error report; the worker's log:\n{log_tail(log_path)}",
        )
    finally:
        stop_worker(worker, log_path)
    event = _Collector.events[0]
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    text = json.dumps(event, default=str)
    for value in (NAME, CARD, BORN):
        assert value not in text, value
