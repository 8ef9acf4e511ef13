"""Celery tasks: thin wrappers that take row ids only (never patient data) and call one service."""

import random

from celery import shared_task
from django.conf import settings

from hrm.services.alerts import alerts_digest_send
from hrm.services.delivery import Outcome, report_deliver, reports_deliver, reports_redrive
from hrm.services.health import hrm_dispatch_paused, hrm_pause_remaining, hrm_redrive_paused
from hrm.transport_config import transport_get


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
    soft_time_limit=settings.HRM_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.HRM_TASK_TIME_LIMIT,
)
def report_deliver_task(self, report_id: int) -> str:
    if hrm_dispatch_paused():
        _after_pause([report_id])
        return "paused"
    result = report_deliver(report_id, transport_get())
    if (
        result.outcome is Outcome.RETRY
        and result.retry_in <= settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS
    ):
        raise self.retry(countdown=result.retry_in)
    # Longer waits are the beat re-drive's job: no countdown comes near the visibility timeout.
    return result.outcome.value


@shared_task(ignore_result=True)
def reports_redrive_task() -> int:
    if hrm_redrive_paused():
        return 0
    return len(reports_redrive())


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.HRM_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.HRM_TASK_TIME_LIMIT,
)
def reports_deliver_task(report_ids: list[int]) -> None:
    """A few reports (usually one message's) over one connection; each retry goes on alone."""
    if hrm_dispatch_paused():
        _after_pause(report_ids)
        return
    for report_id, result in reports_deliver(report_ids, transport_get()).items():
        if (
            result.outcome is Outcome.RETRY
            and result.retry_in <= settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS
        ):
            report_deliver_task.apply_async((report_id,), countdown=result.retry_in)


@shared_task(ignore_result=True)
def alerts_digest_task() -> int:
    return len(alerts_digest_send())


def _after_pause(report_ids: list[int]) -> None:
    """HRM is down: the rows stay queued (no attempt spent) and come back when the pause ends;
    a pause longer than a countdown should wait is left to the beat re-drive."""
    wait = hrm_pause_remaining() + random.uniform(0, 1)
    if wait <= settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS:
        reports_deliver_task.apply_async((report_ids,), countdown=wait)
