"""Celery tasks of the ops app: thin, one service each."""

from celery import shared_task

from ops.services import heartbeat_record


# Scheduled by beat every minute (CELERY_BEAT_SCHEDULE) and run by a default-queue worker: a
# fresh heartbeat shows beat, the broker and that worker all going; readiness reads its age.
@shared_task(name="ops.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    heartbeat_record()
