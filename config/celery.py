import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun, worker_init
from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_exceptions

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("ereferral")
app.config_from_object("django.conf:settings", namespace="CELERY")
# hrm keeps its tasks in its delivery room; their names stay "hrm.tasks.*" (pinned in the tasks).
app.autodiscover_tasks(["hrm.delivery", "ops"])


@setup_logging.connect
def _use_django_logging(**kwargs):
    """Workers and beat log as the web processes do (settings.LOGGING: JSON lines with the task
    and report ids in production) rather than through Celery's own handlers."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    # Python's warnings too, as log records (Django does the same for the web processes).
    logging.captureWarnings(True)


def _patch_kombu_on_a_closed_connection() -> None:
    """kombu 5.7.0 (the latest release), Redis transport: once a lost broker connection has been
    closed, a channel of it may still need a Redis client: to put unacked late-ack messages back
    as it closes, or to acknowledge a task that finished after the loss. Building that client
    reads the closed connection's parameters, which are gone, and the AttributeError (``'NoneType'
    object has no attribute 'hostname'`` or ``'client'``, in ``_connparams``) ends the worker's
    main process ("Unrecoverable error") instead of letting it reconnect. Raise what the
    situation is, a connection error, which kombu and Celery already handle: the clean-up goes
    on, the acknowledgement is logged as lost (the row's claim keeps a redelivered task from
    doing the work twice), and the consumer reconnects. The same error in the same place was
    reported upstream as https://github.com/celery/kombu/issues/582 (closed with no guard on this
    path). kombu is pinned in pyproject.toml for this: remove the guard once kombu guards it."""
    original = kombu_redis.Channel._connparams
    if getattr(original, "_ereferral_guarded", False):
        return

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or getattr(transport, "client", None) is None:
            raise redis_exceptions.ConnectionError(
                "The broker connection of this channel is closed (Redis went away)."
            )
        return original(self, asynchronous=asynchronous)

    _connparams._ereferral_guarded = True
    kombu_redis.Channel._connparams = _connparams


_patch_kombu_on_a_closed_connection()


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


@worker_init.connect
def _refuse_a_role_that_could_erase_the_trail(**kwargs):
    """As the web process does (config/wsgi.py): no worker on a database role that could erase
    the access trail. Celery logs and goes past an exception in a signal handler, so exit."""
    import logging

    from django.core.exceptions import ImproperlyConfigured

    from audit.checks import trail_role_or_refuse

    try:
        trail_role_or_refuse()
    except ImproperlyConfigured as refused:
        logging.getLogger("audit.checks").critical("%s", refused)
        raise SystemExit(1) from refused
