"""Delivery through a real Redis broker, a real Celery worker and a real SFTP server."""

import pytest

from hrm.delivery.tasks import reports_redrive_task
from hrm.models import HrmReport

from ..delivery_fixtures import delivered_files, wait_for
from ..factories import composed, pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)
Status = HrmReport.Status


def send(client, referral, text="Letter attached", files=()):
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(client, referral, text=text, files=list(files)),
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return referral.messages.latest("id")


def statuses(message):
    return sorted(HrmReport.objects.filter(message=message).values_list("status", flat=True))


def page_of(client, referral):
    return client.get(f"/referrals/{referral.pk}/").content.decode()


def test_text_and_pdf_to_two_stakeholders_are_delivered_once_each(
    live, worker, hrm_sftp, client_for
):
    client = client_for(live.world.specialist)
    message = send(client, live.referral, files=[pdf_upload()])
    wait_for(lambda: statuses(message) == [Status.SENT] * 4, message="four sent reports")
    files = delivered_files(hrm_sftp)
    assert len(files) == 4
    assert sorted(files) == sorted({f for f in files})
    page = page_of(client, live.referral)
    assert f'id="hrm-status-{message.pk}" data-hrm-icon="sent"' in page
    assert "Sent to EMR via HRM" in page
    assert "Sent to EMR via HRM" in page_of(client_for(live.world.referrer), live.referral)


def test_server_down_retries_then_delivers_when_it_is_back(live, worker, hrm_sftp, client_for):
    hrm_sftp.stop()
    client = client_for(live.world.specialist)
    message = send(client, live.referral, text="Retry me")
    wait_for(
        lambda: all(r.attempts >= 2 for r in HrmReport.objects.filter(message=message)),
        message="a few attempts while the server is down",
    )
    assert set(statuses(message)) <= {Status.QUEUED, Status.SENDING}
    assert 'data-hrm-icon="pending"' in page_of(client, live.referral)
    hrm_sftp.start()
    wait_for(lambda: statuses(message) == [Status.SENT] * 2, message="delivery once back")
    assert len(delivered_files(hrm_sftp)) == 2


def test_server_down_past_the_limit_fails_and_resend_delivers(
    live, worker, hrm_sftp, client_for, settings
):
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 2
    hrm_sftp.stop()
    client = client_for(live.world.specialist)
    message = send(client, live.referral, text="Give up on me", files=[pdf_upload()])
    wait_for(lambda: statuses(message) == [Status.FAILED] * 4, message="failure past the limit")
    page = page_of(client, live.referral)
    assert f'id="hrm-status-{message.pk}" data-hrm-icon="failed"' in page
    assert "HRM delivery failed" in page
    report = HrmReport.objects.filter(message=message).first()
    assert report.transaction_id in page
    assert "Gave up after" in report.last_error and "refused the connection" in report.last_error
    # The clinician reads that it stopped, and why in their words; "will retry" is for support.
    assert "Stopped trying after" in page and "will retry" not in page

    hrm_sftp.start()
    response = client.post(f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/")
    assert response.status_code == 302
    wait_for(lambda: statuses(message) == [Status.SENT] * 4, message="re-sent reports")
    assert len(delivered_files(hrm_sftp)) == 4
    assert 'data-hrm-icon="sent"' in page_of(client, live.referral)


def test_send_while_redis_is_down_posts_and_delivers_once_redis_is_back(
    live, worker, broker, hrm_sftp, client_for
):
    broker.stop()
    client = client_for(live.world.specialist)
    message = send(client, live.referral, text="Sent while Redis is down")
    assert message.text == "Sent while Redis is down"
    assert statuses(message) == [Status.QUEUED] * 2
    broker.start()
    # What beat does every minute: the re-drive finds the rows that were never enqueued.
    wait_for(
        lambda: _redrive_once() and statuses(message) == [Status.SENT] * 2,
        timeout=60,
        interval=1,
        message="delivery after Redis returns",
    )
    assert len(delivered_files(hrm_sftp)) == 2


def _redrive_once() -> bool:
    try:
        reports_redrive_task.delay()
    except Exception:  # noqa: BLE001 — the worker may still be reconnecting to the broker
        return False
    return True


def test_a_resend_that_fails_again_shows_it_logs_it_and_alerts_nobody_twice(
    live, worker, hrm_sftp, client_for, settings, mailoutbox
):
    """With the real worker: a re-send while HRM is still unreachable reads "re-sending", then
    "re-send failed"; the event log says who re-sent what; the attempts add up; the failure
    episode was alerted once; the re-send that goes through resolves it."""
    from hrm.models import HrmAlert, HrmAlertReport
    from referrals.models import ReferralEvent

    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 2
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000  # a few failures are not an outage here
    hrm_sftp.stop()
    client = client_for(live.world.specialist)
    message = send(client, live.referral, text="Give up on me")
    wait_for(lambda: statuses(message) == [Status.FAILED] * 2, message="failure past the limit")
    wait_for(lambda: HrmAlert.objects.filter(kind=HrmAlert.Kind.FAILURE).exists(), message="alert")
    told = HrmAlert.objects.get(kind=HrmAlert.Kind.FAILURE).recipients

    def alerts():
        return sorted(e.to[0] for e in mailoutbox if e.subject.startswith("HRM delivery failed"))

    wait_for(lambda: alerts() == sorted(told), message="the failure alert's emails")
    attempts_before = sum(
        HrmReport.objects.filter(message=message).values_list("attempts", flat=True)
    )

    response = client.post(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/", follow=True
    )
    page = response.content.decode()
    assert "Re-sending 2 HRM reports." in page
    assert "Re-sending to EMR via HRM" in page or "HRM re-send failed" in page
    wait_for(lambda: statuses(message) == [Status.FAILED] * 2, message="the re-send failing")
    # Each failed delivery is kept with an alert (the worker records it just after the row).
    wait_for(lambda: HrmAlertReport.objects.count() == 4, message="the failures on record")
    page = page_of(client, live.referral)
    assert "HRM re-send failed" in page
    event = live.referral.events.get(kind=ReferralEvent.Kind.DELIVERY_RESENT)
    assert event.actor == live.world.specialist
    assert event.description.startswith("Re-sent 2 HRM reports of the message of ")
    details = client.get(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/"
    ).content.decode()
    attempts_after = sum(
        HrmReport.objects.filter(message=message).values_list("attempts", flat=True)
    )
    total = attempts_before + attempts_after
    shown = [int(cell.split("<", 1)[0]) for cell in details.split('data-label="Attempts">')[1:]]
    assert sum(shown) == total
    assert alerts() == sorted(told)  # not again

    hrm_sftp.start()
    client.post(f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/")
    wait_for(lambda: statuses(message) == [Status.SENT] * 2, message="re-sent reports")
    wait_for(
        lambda: any(email.subject.startswith("Resolved:") for email in mailoutbox),
        message="the resolved note",
    )
