"""/metrics: Prometheus' text format, read from the rows the test made, for a token or an
allowed address only, with no patient data in any label."""

import math
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from hrm.models import HrmAlert, HrmAttempt, HrmHealth, HrmReport, ReceiverImport
from ops.services import heartbeat_record
from referrals import services

from ..factories import PATIENT

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-0123456789"
Status = HrmReport.Status
Outcome = HrmAttempt.Outcome


def scrape(client=None, **headers) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` of one scrape."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def one(samples, name, **labels) -> float:
    return samples[name][tuple(sorted(labels.items()))]


@pytest.fixture
def rows(live, broker):
    """Four reports, one per status; attempts of known durations; alerts; HRM down; the receiver
    list imported ten days ago; beat's heartbeat now."""
    now = timezone.now()
    reports = []
    for text in ("First note.", "Second note."):
        message = services.message_post(
            referral=live.referral, author=live.world.specialist, text=text
        )
        reports += list(HrmReport.objects.filter(message=message).order_by("pk"))
    assert len(reports) == 4
    queued, sending, sent, failed = reports
    HrmReport.objects.filter(pk=queued.pk).update(delivery_started_at=now - timedelta(seconds=600))
    HrmReport.objects.filter(pk=sending.pk).update(
        status=Status.SENDING, sending_since=now - timedelta(seconds=45)
    )
    HrmReport.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=now)
    HrmReport.objects.filter(pk=failed.pk).update(status=Status.FAILED, last_error="Gave up")
    for report, outcome, error_class, ms in [
        (sent, Outcome.SENT, "", 40),
        (sent, Outcome.SENT, "", 300),
        (failed, Outcome.RETRY, "unreachable", 20_000),
        (failed, Outcome.FAILED, "unreachable", 7_000),
    ]:
        HrmAttempt.objects.create(
            report=report, number=1, started_at=now, duration_ms=ms, worker="w1 pid 1",
            outcome=outcome, error_class=error_class,
        )  # fmt: skip
    for kind, state in [
        (HrmAlert.Kind.FAILURE, HrmAlert.State.EMAILED),
        (HrmAlert.Kind.FAILURE, HrmAlert.State.EMAILED),
        (HrmAlert.Kind.FAILURE, HrmAlert.State.HELD),
        (HrmAlert.Kind.OUTAGE, HrmAlert.State.EMAILED),
    ]:
        HrmAlert.objects.create(kind=kind, state=state, subject="s", body="b")
    HrmHealth.objects.create(pk=1, state=HrmHealth.State.DOWN, consecutive_failures=7)
    for days, status in [(10, ReceiverImport.Status.APPLIED), (1, ReceiverImport.Status.DISCARDED)]:
        ReceiverImport.objects.create(
            uploaded_by_name="Support", file_name="list.xlsx", sha256="0" * 64, content=b"",
            status=status, applied_at=now - timedelta(days=days),
        )  # fmt: skip
    heartbeat_record()
    return reports


def test_metrics_report_the_rows_the_test_made(rows, broker):
    samples = scrape()
    assert {s: one(samples, "ereferral_hrm_reports", status=s) for s in Status.values} == {
        "queued": 1,
        "sending": 1,
        "sent": 1,
        "failed": 1,
        "cancelled": 0,  # every status has its series, so an alert on one never goes blank
    }
    assert 600 <= one(samples, "ereferral_hrm_oldest_queued_report_age_seconds") < 660
    assert 45 <= one(samples, "ereferral_hrm_oldest_sending_report_age_seconds") < 105

    histogram = "ereferral_hrm_attempt_duration_seconds"
    sent = {"outcome": "sent", "error_class": "none"}
    assert one(samples, f"{histogram}_count", **sent) == 2
    assert one(samples, f"{histogram}_sum", **sent) == pytest.approx(0.34)
    assert one(samples, f"{histogram}_bucket", le="0.05", **sent) == 1
    assert one(samples, f"{histogram}_bucket", le="0.5", **sent) == 2
    unreachable = {"error_class": "unreachable"}
    assert one(samples, f"{histogram}_count", outcome="retry", **unreachable) == 1
    assert one(samples, f"{histogram}_count", outcome="failed", **unreachable) == 1
    assert one(samples, f"{histogram}_bucket", le="10.0", outcome="retry", **unreachable) == 0
    assert one(samples, f"{histogram}_bucket", le="20.0", outcome="retry", **unreachable) == 1
    assert one(samples, f"{histogram}_bucket", le="+Inf", outcome="failed", **unreachable) == 1

    assert one(samples, "ereferral_hrm_up") == 0
    assert one(samples, "ereferral_hrm_consecutive_failures") == 7
    assert one(samples, "ereferral_hrm_alerts_sent_total", kind="failure") == 2
    assert one(samples, "ereferral_hrm_alerts_sent_total", kind="outage") == 1
    assert one(samples, "ereferral_hrm_alerts_sent_total", kind="digest") == 0
    assert one(samples, "ereferral_hrm_alerts_held") == 1
    assert one(samples, "ereferral_hrm_receiver_list_age_days") == pytest.approx(10, abs=0.01)
    assert one(samples, "ereferral_beat_heartbeat_age_seconds") < 60
    assert one(samples, "ereferral_broker_up") == 1


def test_the_broker_queue_length_counts_the_tasks_waiting(rows, broker):
    from config.celery import app

    for _ in range(3):
        app.send_task("hrm.tasks.reports_deliver_task", args=([rows[0].pk],))
    samples = scrape()
    assert one(samples, "ereferral_broker_queue_length", queue="hrm") == 3
    assert one(samples, "ereferral_broker_queue_length", queue="celery") == 0


@pytest.mark.processes
def test_a_stopped_broker_reads_as_down_and_the_rest_still_answers(rows, broker):
    broker.stop()
    samples = scrape()
    assert one(samples, "ereferral_broker_up") == 0
    assert "ereferral_broker_queue_length" not in samples
    assert one(samples, "ereferral_hrm_reports", status="queued") == 1


def test_a_fresh_install_reads_never_imported_and_no_heartbeat(db, broker):
    samples = scrape()
    assert one(samples, "ereferral_hrm_receiver_list_age_days") == math.inf
    assert one(samples, "ereferral_beat_heartbeat_age_seconds") == math.inf
    assert one(samples, "ereferral_hrm_up") == 1
    assert one(samples, "ereferral_hrm_oldest_queued_report_age_seconds") == 0


def test_no_label_holds_patient_or_clinician_data(rows, broker, live):
    samples = scrape()
    values = {value for series in samples.values() for labels in series for _, value in labels}
    known = {
        *Status.values, *Outcome.values, *HrmAlert.Kind.values, "none", "unreachable",
        "hrm", "celery",
    }  # fmt: skip
    le = {value for value in values if value.replace(".", "").isdigit() or value == "+Inf"}
    assert values - le <= known
    text = Client().get("/metrics").content.decode()
    for secret in [PATIENT["patient_last_name"], PATIENT["patient_health_card_number"], "Nguyen"]:
        assert secret not in text
    assert rows[0].transaction_id not in text


def test_metrics_need_the_token_or_an_allowed_address(db, broker, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_ADDRESSES = ["10.0.5.0/24", "::1"]
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    assert elsewhere.get("/metrics").status_code == 403
    assert elsewhere.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert elsewhere.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert Client(REMOTE_ADDR="10.0.5.17").get("/metrics").status_code == 200
    # The test client's own address, 127.0.0.1, is no longer on the list.
    assert Client().get("/metrics").status_code == 403
    settings.METRICS_TOKEN = ""
    assert elsewhere.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_by_default_only_loopback_may_scrape(db, broker):
    assert Client().get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 403


def test_a_scrape_reads_this_hours_attempts_only(rows, broker):
    """A scrape every 15 s never reads the whole history of attempts: _count and _sum are the
    attempts finished since the hour began (a counter that starts again each hour, which rate()
    and increase() read as a reset)."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    sent_report = rows[2]
    for finished_at in (hour - timedelta(seconds=1), hour - timedelta(days=3)):
        HrmAttempt.objects.create(
            report=sent_report, number=2, started_at=finished_at, finished_at=finished_at,
            duration_ms=10, worker="w1 pid 1", outcome=Outcome.SENT, error_class="",
        )  # fmt: skip
    samples = scrape()
    sent = {"outcome": "sent", "error_class": "none"}
    histogram = "ereferral_hrm_attempt_duration_seconds"
    assert one(samples, f"{histogram}_count", **sent) == 2
    assert one(samples, f"{histogram}_bucket", le="0.05", **sent) == 1
    # With no attempt yet this hour the sent series is still there, at 0 (an alert on it never
    # goes blank).
    HrmAttempt.objects.filter(finished_at__gte=hour).update(finished_at=hour - timedelta(hours=1))
    assert one(scrape(), f"{histogram}_count", **sent) == 0


def test_sent_reports_beyond_the_dashboards_exact_count_are_an_estimate(rows, broker, monkeypatch):
    """The same bounded count as support's dashboard: "sent" (nearly every row) is counted
    exactly up to 10,000, then estimated from the table's size; the others are exact."""
    from django.db import connection

    from hrm.delivery.selectors import dashboard

    samples = scrape()
    assert one(samples, "ereferral_hrm_reports_sent_estimated") == 0
    monkeypatch.setattr(dashboard, "SENT_EXACT_UP_TO", 0)
    HrmReport.objects.filter(pk=rows[0].pk).update(status=Status.SENT, sent_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{HrmReport._meta.db_table}"')
    samples = scrape()
    assert one(samples, "ereferral_hrm_reports_sent_estimated") == 1
    assert one(samples, "ereferral_hrm_reports", status="sent") == 2  # 4 rows less 2 not sent
    assert one(samples, "ereferral_hrm_reports", status="failed") == 1
    assert one(samples, "ereferral_hrm_reports", status="queued") == 0
