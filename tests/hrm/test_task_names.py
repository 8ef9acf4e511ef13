"""Celery task names are pinned, not derived from where the code lives: messages already queued,
the routes and beat's schedule keep working when a module moves."""

from django.conf import settings

from config.celery import app
from hrm.delivery import tasks
from ops import tasks as ops_tasks

PINNED = {
    tasks.report_deliver_task: "hrm.tasks.report_deliver_task",
    tasks.reports_deliver_task: "hrm.tasks.reports_deliver_task",
    tasks.reports_redrive_task: "hrm.tasks.reports_redrive_task",
    tasks.alerts_digest_task: "hrm.tasks.alerts_digest_task",
}


def test_each_task_keeps_its_name_and_the_schedule_names_only_registered_tasks():
    for task, name in PINNED.items():
        assert task.name == name
        assert app.tasks[name].name == name  # registered under that name
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry
    assert all(app.amqp.router.route({}, name)["queue"].name == "hrm" for name in PINNED.values())


def test_beats_heartbeat_keeps_its_name_and_runs_on_the_default_queue():
    # Its age is /health/ready's evidence that beat and a default-queue worker are running.
    assert ops_tasks.beat_heartbeat.name == "ops.tasks.beat_heartbeat"
    assert app.amqp.router.route({}, "ops.tasks.beat_heartbeat")["queue"].name == "celery"
