"""Which other queued reports a worker takes along with its batch: HRM is across the internet,
and a batch costs three round trips however many reports it carries, so a worker fills each
attempt up to ``HRM_DELIVERY_PIPELINE_REPORTS`` reports (docs/delivery.md, "Connections per HRM
account")."""

from django.conf import settings
from django.db.models import Exists, Q
from django.utils import timezone

from hrm.models import HrmHealth, HrmReport


def reports_due_alongside(report_ids: list[int]) -> list[int]:
    """Up to ``HRM_DELIVERY_PIPELINE_REPORTS`` less ``len(report_ids)`` other reports due now,
    the longest waiting first, whose attachments stay within ``HRM_DELIVERY_PIPELINE_BYTES``
    (so a batch of large files still ends well inside the task's time limit on a slow link).
    Only their ids: the claim decides which of them this worker really gets.

    None while HRM is failing or down: a probe of a server that was down carries its own batch
    only, and a message's parts keep failing, or getting through, together."""
    room = settings.HRM_DELIVERY_PIPELINE_REPORTS - len(report_ids)
    if room <= 0:
        return []
    budget = settings.HRM_DELIVERY_PIPELINE_BYTES
    candidates = (
        HrmReport.objects.filter(
            status=HrmReport.Status.QUEUED, next_attempt_at__lte=timezone.now()
        )
        .exclude(pk__in=report_ids)
        .filter(~Exists(_hrm_not_answering()))  # in the same statement: one round trip
        .filter(Q(attachment__isnull=True) | Q(attachment__size__lte=budget))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "attachment__size")[:room]
    )
    taken = []
    for pk, size in candidates:
        if (size or 0) > budget:
            continue  # left for another attempt; smaller ones may still fit
        budget -= size or 0
        taken.append(pk)
    return taken


def _hrm_not_answering():
    """HRM's health row when it is down or counting failures (no row: never failed yet)."""
    return HrmHealth.objects.filter(pk=1).exclude(state=HrmHealth.State.UP, consecutive_failures=0)
