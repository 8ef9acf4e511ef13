import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("ereferral")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **kwargs):
    """What Django does around each request: drop a connection that is broken or has outlived
    CONN_MAX_AGE (see CELERY_DB_REUSE_MAX in the settings). A task run eagerly runs in its
    caller's connection, perhaps inside its transaction: that one is left alone."""
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
