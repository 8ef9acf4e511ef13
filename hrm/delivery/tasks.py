"""Celery tasks: thin wrappers that take row ids only (never patient data) and call one service."""

import logging
import random

from celery import shared_task
from django.conf import settings

from hrm.delivery.connections import transport_get
from hrm.delivery.services.alerts import alerts_digest_send
from hrm.delivery.services.health import (
    hrm_dispatch_paused,
    hrm_pause_remaining,
    hrm_redrive_paused,
)
from hrm.delivery.services.outbox import reports_deliver, reports_redrive
from hrm.delivery.services.recording import DeliveryResult, Outcome

logger = logging.getLogger(__name__)


def _retry_soon(report_id: int, result: DeliveryResult) -> None:
    """A short wait is a Celery countdown; longer ones are the beat re-drive's job, so no
    countdown comes near the visibility timeout. The row already says when it is due, so a
    broker that cannot take the countdown loses nothing."""
    if result.outcome is not Outcome.RETRY:
        return
    if result.retry_in > settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS:
        return
    try:
        report_deliver_task.apply_async((report_id,), countdown=result.retry_in)
    except Exception:  # noqa: BLE001 — any broker failure: the re-drive finds the row
        logger.warning("HRM report %s: retry not enqueued (broker unreachable)", report_id)


@shared_task(
    name="hrm.tasks.report_deliver_task",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.HRM_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.HRM_TASK_TIME_LIMIT,
)
def report_deliver_task(report_id: int) -> str:
    if hrm_dispatch_paused():
        _after_pause([report_id])
        return "paused"
    results = reports_deliver([report_id], transport_get(), take_along=True)
    for each_id, result in results.items():
        _retry_soon(each_id, result)
    return results[report_id].outcome.value


@shared_task(name="hrm.tasks.reports_redrive_task", ignore_result=True)
def reports_redrive_task() -> int:
    if hrm_redrive_paused():
        return 0
    return len(reports_redrive())


@shared_task(
    name="hrm.tasks.reports_deliver_task",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.HRM_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.HRM_TASK_TIME_LIMIT,
)
def reports_deliver_task(report_ids: list[int]) -> None:
    """A few reports (usually one message's) over one connection, with other reports due now
    taken along (``reports_deliver``); each retry goes on alone, and takes others along too."""
    if hrm_dispatch_paused():
        _after_pause(report_ids)
        return
    for report_id, result in reports_deliver(report_ids, transport_get(), take_along=True).items():
        _retry_soon(report_id, result)


@shared_task(name="hrm.tasks.alerts_digest_task", ignore_result=True)
def alerts_digest_task() -> int:
    return len(alerts_digest_send())


def _after_pause(report_ids: list[int]) -> None:
    """HRM is down: the rows stay queued (no attempt spent) and come back when the pause ends;
    a pause longer than a countdown should wait is left to the beat re-drive."""
    wait = hrm_pause_remaining() + random.uniform(0, 1)
    if wait > settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS:
        return
    try:
        reports_deliver_task.apply_async((report_ids,), countdown=wait)
    except Exception:  # noqa: BLE001 — any broker failure: the re-drive finds the rows
        logger.warning(
            "HRM reports %s: not put back after the pause (broker unreachable)", report_ids
        )
