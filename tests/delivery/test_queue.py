"""What goes on the workers' queue, and when: re-sends and "hand over now" are one statement and
one broker message, on the real Redis broker the tests use (no worker reads it here)."""

import base64
import json

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from hrm.delivery.services.queue import (
    DELIVER_TASK,
    ResendRefused,
    message_reports_resend,
    reports_enqueue_now,
)
from hrm.models import HrmReport, SenderApproval
from referrals import services

from ..factories import pdf_upload

Status = HrmReport.Status


@pytest.fixture
def broker():
    """The test broker's ``hrm`` queue, emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("hrm")
    yield client
    client.delete("hrm")
    client.close()


def published(broker) -> list[tuple[str, list[int]]]:
    """Each broker message on the ``hrm`` queue: its task name and the report ids it carries."""
    messages = []
    for raw in broker.lrange("hrm", 0, -1):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages.append((envelope["headers"]["task"], args[0]))
    return messages


@pytest.fixture
def message(live):
    return services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )


def test_a_message_re_send_queues_every_failed_report_in_one_broker_message(
    live, message, broker, django_capture_on_commit_callbacks
):
    reports = list(message.hrm_reports.order_by("pk"))
    assert len(reports) >= 2
    HrmReport.objects.filter(pk__in=[r.pk for r in reports[1:]]).update(status=Status.FAILED)
    broker.delete("hrm")  # what Send itself published

    with django_capture_on_commit_callbacks(execute=True):
        resent = message_reports_resend(message=message, by=live.world.specialist)

    assert [r.pk for r in resent] == [r.pk for r in reports[1:]]
    assert all(r.status == Status.QUEUED and r.resent_by == live.world.specialist for r in resent)
    assert HrmReport.objects.get(pk=reports[0].pk).status == Status.QUEUED  # never failed
    assert published(broker) == [(DELIVER_TASK, [r.pk for r in reports[1:]])]


def test_a_re_send_of_a_report_names_one_of_the_message_s_own(live, message, broker):
    other = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Another."
    )
    stranger_report = other.hrm_reports.first()
    with pytest.raises(HrmReport.DoesNotExist):
        message_reports_resend(
            message=message, by=live.world.specialist, report_id=stranger_report.pk
        )


def test_a_re_send_is_refused_once_the_author_may_no_longer_send(live, message, broker):
    HrmReport.objects.filter(message=message).update(status=Status.FAILED)
    SenderApproval.objects.filter(user=live.world.specialist).update(
        status=SenderApproval.Status.REVOKED
    )
    with pytest.raises(ResendRefused) as refused:
        message_reports_resend(message=message, by=live.world.specialist)
    assert refused.value.reasons
    assert set(message.hrm_reports.values_list("status", flat=True)) == {Status.FAILED}
    assert published(broker) == []


def test_handing_queued_reports_over_now_skips_the_others(
    message, broker, django_capture_on_commit_callbacks
):
    queued, sent = list(message.hrm_reports.order_by("pk"))[:2]
    later = timezone.now() + timezone.timedelta(hours=1)
    HrmReport.objects.filter(pk=queued.pk).update(next_attempt_at=later)
    HrmReport.objects.filter(pk=sent.pk).update(status=Status.SENT)
    broker.delete("hrm")

    with django_capture_on_commit_callbacks(execute=True):
        handed = reports_enqueue_now([queued.pk, sent.pk])

    assert handed == [queued.pk]
    assert HrmReport.objects.get(pk=queued.pk).next_attempt_at <= timezone.now()
    assert published(broker) == [(DELIVER_TASK, [queued.pk])]
