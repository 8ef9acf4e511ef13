"""HRM's health: failures about HRM, in a row across recipients, mean HRM is down; dispatch
pauses with a banner and no alert storm, probes one at a time, and resumes by itself."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from hrm.delivery.services.health import hrm_dispatch_paused, hrm_redrive_paused
from hrm.models import HrmAlert, HrmHealth

from .conftest import GAVE_UP, PERMISSION, UNREACHABLE, end_attempt, post_message

BANNER = "HRM is unreachable at the moment."


@pytest.fixture
def quick(settings):
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 4
    settings.HRM_HEALTH_DOWN_MIN_RECIPIENTS = 2


def health():
    return HrmHealth.objects.get(pk=1)


def test_failures_across_recipients_mean_hrm_is_down_and_a_delivery_brings_it_back(
    live, quick, support, client_for, django_capture_on_commit_callbacks
):
    messages = [post_message(live, text=f"Note {n}") for n in range(3)]
    reports = [r for m in messages for r in m.hrm_reports.order_by("id")]
    assert len({r.deliver_to_user_id for r in reports}) == 2
    with django_capture_on_commit_callbacks(execute=True):
        for report in reports[:3]:
            end_attempt(report, "retry", UNREACHABLE)
        assert health().state == HrmHealth.State.UP and not hrm_dispatch_paused()
        end_attempt(reports[3], "retry", UNREACHABLE)
    assert health().state == HrmHealth.State.DOWN
    assert hrm_dispatch_paused() and hrm_redrive_paused()
    [outage] = mail.outbox
    assert outage.to == ["support@ereferral.example"] and "unreachable" in outage.subject
    # The banner, for the clinician and for support.
    page = client_for(live.world.specialist).get(live.referral.get_absolute_url())
    assert BANNER in page.content.decode()
    admin_page = client_for(support).get("/admin/hrm/hrmreport/")
    assert "HRM is unreachable." in admin_page.content.decode()
    # While down, final failures wait for the digest: no alert storm.
    with django_capture_on_commit_callbacks(execute=True):
        for report in reports[4:]:
            end_attempt(report, "failed", GAVE_UP)
    assert len(mail.outbox) == 1
    assert HrmAlert.objects.filter(kind="failure", state="held").count() == 1
    # After the pause, exactly one worker goes ahead as the probe.
    HrmHealth.objects.filter(pk=1).update(paused_until=timezone.now() - timedelta(seconds=1))
    assert hrm_redrive_paused() is False
    assert [hrm_dispatch_paused() for _ in range(3)] == [False, True, True]
    # A failed probe: a longer pause.
    before = health().backoff_seconds
    with django_capture_on_commit_callbacks(execute=True):
        end_attempt(reports[0], "retry", UNREACHABLE)
    assert health().backoff_seconds == 2 * before
    # A delivery that goes through: HRM is up, dispatch resumes, support is told once.
    with django_capture_on_commit_callbacks(execute=True):
        end_attempt(reports[1], "sent")
    assert health().state == HrmHealth.State.UP and not hrm_dispatch_paused()
    assert [m.subject for m in mail.outbox][1:] == ["HRM is reachable again: deliveries resumed"]
    page = client_for(live.world.specialist).get(live.referral.get_absolute_url())
    assert BANNER not in page.content.decode()


def test_one_recipient_refused_again_and_again_is_not_hrm_down(live, quick, support):
    message = post_message(live)
    report = message.hrm_reports.first()
    for _ in range(10):
        end_attempt(report, "retry", UNREACHABLE)
    assert health().state == HrmHealth.State.UP  # one recipient only
    other = message.hrm_reports.exclude(pk=report.pk).first()
    for _ in range(10):
        end_attempt(other, "retry", PERMISSION)  # about the file or the recipient, not HRM
    assert health().state == HrmHealth.State.UP


def test_a_success_in_between_breaks_the_streak(live, quick, support):
    a, b = post_message(live).hrm_reports.order_by("id")
    for _ in range(3):
        end_attempt(a, "retry", UNREACHABLE)
    end_attempt(b, "sent")
    end_attempt(a, "retry", UNREACHABLE)
    assert health().state == HrmHealth.State.UP and health().consecutive_failures == 1
