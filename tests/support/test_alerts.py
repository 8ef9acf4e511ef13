"""One alert per message and failure, never one per attempt; a daily digest beyond the limit;
a "resolved" note when a re-send goes through; no patient in any of them."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from hrm.delivery.services.alerts import alerts_digest_send
from hrm.delivery.services.queue import report_resend
from hrm.models import HrmAlert, HrmReport

from .conftest import GAVE_UP, PERMISSION, end_attempt, post_message

Status = HrmReport.Status
SUPPORT = "support@ereferral.example"


def to(address):
    return [m for m in mail.outbox if m.to == [address]]


@pytest.fixture
def site_address(message, settings):
    # A few failures of one message are not an outage (tests/support/test_health.py is).
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000
    return message.author_listing.notification_address


def test_a_message_failing_after_several_attempts_sends_one_alert_to_the_site_and_one_to_support(
    message, support, site_address, django_capture_on_commit_callbacks
):
    reports = list(message.hrm_reports.order_by("id"))
    with django_capture_on_commit_callbacks(execute=True):
        for report in reports:
            end_attempt(report, "retry", GAVE_UP.split("Last error: ")[1])
            end_attempt(report, "retry", GAVE_UP.split("Last error: ")[1])
        assert mail.outbox == []  # retries never alert
        for report in reports[:-1]:
            end_attempt(report, "failed", GAVE_UP)
        assert mail.outbox == []  # a part still on its way: not the end of it yet
        end_attempt(reports[-1], "failed", GAVE_UP)
    assert len(to(site_address)) == 1 and len(to(SUPPORT)) == 1 and len(mail.outbox) == 2
    site, staff = to(site_address)[0], to(SUPPORT)[0]
    referral = message.referral
    for email in (site, staff):
        assert f"referral #{referral.pk}" in email.subject
        for report in reports:
            assert report.transaction_id in email.body
        assert "Alice Nguyen" in email.body and "CPSO 12345" in email.body
        # No patient: not the name, the health card or the date of birth.
        for secret in ("Hélène", "Tremblay", "9876543217", "1961"):
            assert secret not in email.body and secret not in email.subject
    assert f"/referrals/{referral.pk}/messages/{message.pk}/hrm/" in site.body
    assert "could not be reached" in site.body and ":2222" not in site.body
    assert "refused the connection" in staff.body  # support gets the server's words
    assert "/admin/hrm/console/resend/?selection=" in staff.body
    # The same failure again (another worker, a duplicate hook call) alerts nobody.
    with django_capture_on_commit_callbacks(execute=True):
        end_attempt(reports[0], "failed", GAVE_UP)
    assert len(mail.outbox) == 2
    assert HrmAlert.objects.filter(kind=HrmAlert.Kind.FAILURE).count() == 1


def test_a_part_failing_while_another_is_sent_alerts_once_the_last_part_settles(
    message, support, site_address, django_capture_on_commit_callbacks
):
    failed, *others = list(message.hrm_reports.order_by("id"))
    with django_capture_on_commit_callbacks(execute=True):
        end_attempt(failed, "failed", PERMISSION)
        assert mail.outbox == []
        for report in others:
            end_attempt(report, "sent")
    assert len(to(site_address)) == 1 and len(to(SUPPORT)) == 1
    assert failed.transaction_id in to(SUPPORT)[0].body
    assert others[0].transaction_id not in to(SUPPORT)[0].body


def test_a_resend_that_goes_through_sends_the_resolved_note_to_whoever_was_told(
    message, support, site_address, django_capture_on_commit_callbacks
):
    reports = list(message.hrm_reports.order_by("id"))
    with django_capture_on_commit_callbacks(execute=True):
        for report in reports[:2]:
            end_attempt(report, "failed", GAVE_UP)
        for report in reports[2:]:
            end_attempt(report, "sent")
    assert len(mail.outbox) == 2
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for report in reports[:2]:
            assert report_resend(report=report, by=support)
        end_attempt(reports[0], "sent")
        assert mail.outbox == []  # one re-sent part is still out: not resolved yet
        end_attempt(reports[1], "sent")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([site_address, SUPPORT])
    assert all(m.subject.startswith("Resolved:") for m in mail.outbox)
    assert reports[0].transaction_id in mail.outbox[0].body
    failure = HrmAlert.objects.get(kind=HrmAlert.Kind.FAILURE)
    assert failure.resolved_by.kind == HrmAlert.Kind.RESOLVED
    # A failure after a re-send is a new failure: alerted again, once.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report_resend(report=reports[0], by=support)  # not failed: nothing happens
        HrmReport.objects.filter(pk=reports[0].pk).update(status=Status.FAILED)
        assert report_resend(report=reports[0], by=support)
        end_attempt(reports[0], "failed", PERMISSION)
    assert len(mail.outbox) == 2
    assert HrmAlert.objects.filter(kind=HrmAlert.Kind.FAILURE).count() == 2


def test_beyond_the_daily_limit_failures_wait_for_one_digest(
    live, support, settings, django_capture_on_commit_callbacks
):
    settings.HRM_ALERT_DAILY_LIMIT = 2
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000
    messages = [post_message(live, text=f"Note {n}") for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        for message in messages:
            for report in message.hrm_reports.all():
                end_attempt(report, "failed", GAVE_UP)
    assert len(to(SUPPORT)) == 2  # the first two, one by one
    held = HrmAlert.objects.filter(state=HrmAlert.State.HELD)
    assert held.count() == 3
    # The digest goes once the day is over: nothing today, all three tomorrow, then nothing.
    assert alerts_digest_send() == []
    mail.outbox.clear()
    tomorrow = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        sent = alerts_digest_send(now=tomorrow)
    assert len(sent) == 2  # support's, and the sending site's
    [digest] = to(SUPPORT)
    assert "3 failed deliveries" in digest.subject
    for message in messages[2:]:
        assert f"Referral #{message.referral_id}, message {message.pk}" in digest.body
    for message in messages[:2]:
        assert f"message {message.pk}\n" not in digest.body
    assert "Tremblay" not in digest.body
    assert held.count() == 0
    assert alerts_digest_send(now=tomorrow) == []


def test_a_failed_message_flags_its_authors_referral_for_review_once(
    message, site_address, django_capture_on_commit_callbacks
):
    from referrals.models import ReviewMark
    from referrals.selectors import referrals_needing_review_count

    author = message.author
    ReviewMark.objects.filter(user=author).update(reviewed_at=timezone.now())
    assert referrals_needing_review_count(author) == 0
    with django_capture_on_commit_callbacks(execute=True):
        for report in message.hrm_reports.all():
            end_attempt(report, "failed", GAVE_UP)
        end_attempt(message.hrm_reports.first(), "failed", GAVE_UP)
    mark = ReviewMark.objects.get(user=author, reviewed_at__isnull=True)
    assert mark.reason == ReviewMark.Reason.DELIVERY_FAILED and mark.message == message
    assert referrals_needing_review_count(author) == 1
