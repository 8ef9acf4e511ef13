"""Alerts, attempts and HRM's health with a real worker, a real broker and the sandbox SFTP
server: a message failing after several attempts sends exactly one alert; a re-send sends the
resolved note; HRM down for every recipient raises the banner and no alert storm."""

import time

import pytest
from django.core import mail

from hrm.models import HrmAlert, HrmAttempt, HrmHealth, HrmReport
from referrals import services

from ..delivery_fixtures import delivered_files, wait_for
from ..factories import pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)
Status = HrmReport.Status
SUPPORT = "support@ereferral.example"
BANNER = "HRM is unreachable at the moment."


@pytest.fixture
def support_address(settings):
    settings.HRM_SUPPORT_EMAILS = [SUPPORT]
    return SUPPORT


def statuses(message):
    return sorted(HrmReport.objects.filter(message=message).values_list("status", flat=True))


def post(live, text, files=None):
    return services.message_post(
        referral=live.referral, author=live.world.specialist, text=text, files=files or []
    )


def emails_to(address):
    return [m for m in mail.outbox if address in m.to]


def test_a_message_failing_after_several_attempts_sends_one_alert_and_a_resend_resolves_it(
    live, worker, hrm_sftp, settings, support_address, client_for
):
    settings.HRM_DELIVERY_MAX_ATTEMPTS = 3
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000  # one message failing is not HRM down
    site = live.world.cardiology.notification_address
    hrm_sftp.stop()
    message = post(live, "Seen today, letter attached.", [pdf_upload()])
    mail.outbox.clear()  # the referral's and the message's own emails
    wait_for(lambda: statuses(message) == [Status.FAILED] * 4, message="failure after 3 tries")
    # Every attempt is on record, in order: two retries, then the final failure.
    for report in HrmReport.objects.filter(message=message):
        attempts = list(report.attempt_log.order_by("finished_at", "id"))
        assert [a.outcome for a in attempts] == ["retry", "retry", "failed"]
        assert [a.number for a in attempts] == [1, 2, 3]
        assert all(
            a.error_class == "unreachable" and "refused the connection" in a.error for a in attempts
        )
        assert all("pid" in a.worker and a.duration_ms >= 0 for a in attempts)
    wait_for(lambda: len(mail.outbox) >= 2, message="the alerts")
    time.sleep(1)  # any extra alert would have arrived by now
    assert len(emails_to(site)) == 1 and len(emails_to(SUPPORT)) == 1 and len(mail.outbox) == 2
    alert = emails_to(SUPPORT)[0]
    for report in HrmReport.objects.filter(message=message):
        assert report.transaction_id in alert.body
    assert "Tremblay" not in alert.body and "Hélène" not in alert.body

    hrm_sftp.start()
    client = client_for(live.world.specialist)
    client.post(f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/")
    wait_for(lambda: statuses(message) == [Status.SENT] * 4, message="the re-send")
    wait_for(lambda: len(mail.outbox) >= 4, message="the resolved note")
    time.sleep(1)
    resolved = [m for m in mail.outbox[2:]]
    assert sorted(m.to[0] for m in resolved) == sorted([site, SUPPORT])
    assert all(m.subject.startswith("Resolved:") for m in resolved)
    assert len(delivered_files(hrm_sftp)) == 4
    assert (
        HrmAttempt.objects.filter(report__message=message, outcome="sent", resend=True).count() == 4
    )


def test_hrm_down_for_every_recipient_raises_the_banner_and_no_alert_storm(
    live, worker, hrm_sftp, settings, support_address, client_for
):
    settings.HRM_DELIVERY_MAX_ATTEMPTS = 4
    hrm_sftp.stop()
    messages = [post(live, f"Note {n}", [pdf_upload()]) for n in range(3)]
    mail.outbox.clear()  # the referral's and the messages' own emails
    health = HrmHealth.objects.filter(pk=1, state=HrmHealth.State.DOWN)
    wait_for(health.exists, message="HRM seen as down")
    client = client_for(live.world.specialist)
    assert BANNER in client.get(live.referral.get_absolute_url()).content.decode()
    # Paused, not retrying each report on its own schedule: far fewer attempts than 12 reports
    # retrying every half second would make, and nobody gets an email per report.
    before = HrmAttempt.objects.count()
    time.sleep(4)
    assert HrmAttempt.objects.count() - before < 40
    failure_emails = [m for m in mail.outbox if "delivery failed" in m.subject]
    assert failure_emails == []
    assert [m.subject for m in mail.outbox] == ["HRM is unreachable: deliveries paused"]

    hrm_sftp.start()
    wait_for(lambda: not health.exists(), timeout=60, message="HRM back")
    pending = HrmReport.objects.filter(
        message__in=messages, status__in=[Status.QUEUED, Status.SENDING]
    )
    wait_for(lambda: not pending.exists(), timeout=60, message="everything delivered or failed")
    assert BANNER not in client.get(live.referral.get_absolute_url()).content.decode()
    subjects = [m.subject for m in mail.outbox]
    assert subjects.count("HRM is unreachable: deliveries paused") == 1
    assert subjects.count("HRM is reachable again: deliveries resumed") == 1
    # Whatever failed for good during the outage waits for the digest.
    assert not [s for s in subjects if "delivery failed" in s]
    failed = HrmReport.objects.filter(message__in=messages, status=Status.FAILED).count()
    assert HrmAlert.objects.filter(kind="failure", state="emailed").count() == 0
    assert HrmReport.objects.filter(message__in=messages, status=Status.SENT).count() == 12 - failed
    # Deliveries put off during the pause come back on a countdown: let the worker run them
    # (they find nothing left to do) so none is held by it when it stops.
    time.sleep(settings.HRM_HEALTH_MAX_PAUSE_SECONDS + 1.5)
