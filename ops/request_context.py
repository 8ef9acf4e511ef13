"""Which request, task and reports a log line is about.

The request id comes from the proxy's ``X-Request-ID`` when it is well formed (nginx's
``$request_id`` is 32 hex digits), otherwise one is made; it is answered in the response's
``X-Request-ID``. A task published while handling a request (or another task) carries it in a
message header, so the worker's lines about a Send share the id of the Send's request. In a
worker, each task's lines also carry the task's id and the report ids it was given (tasks take
ids only, so these are all they ever hold).

``ContextFilter`` puts the three on every log record; the JSON formatter in the production
logging config writes them out."""

import contextvars
import inspect
import logging
import re
import uuid

REQUEST_ID_HEADER = "request_id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
report_ids_var: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "report_ids", default=None
)


def request_id_from(value: str | None) -> str:
    """The proxy's id when it looks like one, else a new one (never a caller's free text)."""
    if value and _WELL_FORMED.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


def _request_started(sender, environ=None, **kwargs):
    # Set from the handler's request_started (not the middleware) so that the lines Django logs
    # after the middleware has returned ("Not Found: ...", a 500's traceback) carry it too.
    request_id_var.set(request_id_from((environ or {}).get("HTTP_X_REQUEST_ID")))


def _request_finished(sender, **kwargs):
    request_id_var.set(None)


class RequestIdMiddleware:
    """Gives the request its id (``request.request_id``) and answers it in ``X-Request-ID``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_var.get()
        if request_id is None:  # a handler that sent no request_started
            request_id = request_id_from(request.headers.get("X-Request-ID"))
            request_id_var.set(request_id)
        request.request_id = request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``task_id`` and ``report_ids`` (None outside a request or task) to
    every record; on a handler, so records of every logger get them."""

    def filter(self, record):
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        record.report_ids = report_ids_var.get()
        return True


def task_report_ids(task, args, kwargs) -> list[int] | None:
    """The report ids a task was given: its ``report_id`` or ``report_ids`` argument."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return None
    if "report_ids" in bound.arguments:
        return [int(i) for i in bound.arguments["report_ids"]]
    if "report_id" in bound.arguments:
        return [int(bound.arguments["report_id"])]
    return None


def _before_publish(headers=None, **kwargs):
    request_id = request_id_var.get()
    if headers is not None and request_id and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


def _eager(task) -> bool:
    # A task run eagerly runs inside its caller, whose ids stay.
    return task is None or bool(getattr(task.request, "is_eager", False))


def _task_prerun(task_id=None, task=None, args=None, kwargs=None, **extra):
    if _eager(task):
        return
    request_id = getattr(task.request, REQUEST_ID_HEADER, None)
    # A task run without a request behind it (a beat schedule) gets an id of its own, so its
    # lines, and any task it publishes, still read as one thread.
    request_id_var.set(request_id_from(request_id))
    task_id_var.set(task_id)
    report_ids_var.set(task_report_ids(task, args, kwargs))


def _task_postrun(task=None, **kwargs):
    if _eager(task):
        return
    request_id_var.set(None)
    task_id_var.set(None)
    report_ids_var.set(None)


def signals_connect() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun
    from django.core.signals import request_finished, request_started

    request_started.connect(_request_started, dispatch_uid="ops.request_id_started")
    request_finished.connect(_request_finished, dispatch_uid="ops.request_id_finished")
    before_task_publish.connect(_before_publish, dispatch_uid="ops.request_id_publish")
    task_prerun.connect(_task_prerun, dispatch_uid="ops.request_context_prerun")
    task_postrun.connect(_task_postrun, dispatch_uid="ops.request_context_postrun")
