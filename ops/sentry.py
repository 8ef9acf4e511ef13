"""Optional error reports to Sentry (``SENTRY_DSN``), from the web processes and the workers.

What leaves the machine is the error's kind and where it happened, never what it was about:
``scrub_event`` (``before_send``) keeps the exception types and the stack's files, functions and
lines, and removes every value that may hold patient data: request bodies, query strings,
cookies and headers (but a few harmless ones), local variables, exception messages (a database
error quotes the row it refused), log messages' arguments, breadcrumbs' messages and data,
``extra`` and user details. The request id is added as a tag, to find the logs of the same
request."""

import logging

from ops.request_context import current_request_id

logger = logging.getLogger(__name__)

REMOVED = "[removed]"
KEPT_HEADERS = frozenset({"content-type", "content-length", "user-agent", "x-request-id"})
KEPT_CONTEXTS = frozenset({"runtime", "os", "device", "trace", "celery"})


def _scrub_frames(exception: dict) -> None:
    for frame in (exception.get("stacktrace") or {}).get("frames") or []:
        frame.pop("vars", None)


def scrub_event(event: dict, hint=None) -> dict:
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = REMOVED
        _scrub_frames(exception)
    for thread in (event.get("threads") or {}).get("values") or []:
        _scrub_frames(thread)
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "query_string", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers") or {}
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
        if "url" in request:
            request["url"] = request["url"].split("?", 1)[0]
    logentry = event.get("logentry") or event.get("message")
    if isinstance(logentry, dict):
        # The format string is code; its arguments and the formatted text are data.
        logentry.pop("params", None)
        logentry.pop("formatted", None)
    elif isinstance(logentry, str) and "logentry" not in event:
        event["message"] = REMOVED
    event.pop("extra", None)
    if "user" in event:
        user = event["user"] or {}
        event["user"] = {"id": user["id"]} if "id" in user else {}
    contexts = event.get("contexts") or {}
    event["contexts"] = {k: v for k, v in contexts.items() if k in KEPT_CONTEXTS}
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        scrub_breadcrumb(crumb)
    tags = event.setdefault("tags", {})
    request_id = current_request_id()
    if request_id and isinstance(tags, dict):
        tags["request_id"] = request_id
    return event


def scrub_breadcrumb(crumb: dict, hint=None) -> dict:
    crumb.pop("data", None)
    if crumb.get("message"):
        crumb["message"] = REMOVED
    return crumb


def sentry_init(dsn: str, *, environment: str = "", release: str = "", **options) -> bool:
    """Start reporting when a DSN is set; the Django and Celery integrations turn on by
    themselves. Local variables are not even collected, and no default PII is sent."""
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "database_query_data": False,
            "stack_frame_variables": False,
            "queues": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0,
        **options,
    )
    return True
