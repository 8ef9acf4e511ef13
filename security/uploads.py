"""Bounds on request bodies, checked before they are read.

Every request body is refused (413) from its Content-Length alone when it is larger than its
view allows: ``DATA_UPLOAD_MAX_MEMORY_SIZE`` for every view, a view marked ``accepts_uploads``
more. While a multipart body is parsed, ``BoundedUploadHandler`` stops at the first file larger
than the view's per-file limit, so a 60 MB file is never stored to find out it is too big."""

import functools

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string


def accepts_uploads(*, request_max_bytes, file_max_bytes):
    """Mark a view as taking files: each argument is a number of bytes, or a callable returning
    one (read per request, so settings overrides apply)."""

    def mark(view):
        @functools.wraps(view)
        def marked(*args, **kwargs):
            return view(*args, **kwargs)

        marked.upload_limits = (request_max_bytes, file_max_bytes)
        return marked

    return mark


def _value(limit):
    return limit() if callable(limit) else limit


class RequestBodyLimitMiddleware:
    """Place before CsrfViewMiddleware, whose process_view reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        limits = getattr(view, "upload_limits", None)
        request_max = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limits is not None and request.user.is_authenticated:
            request_max = _value(limits[0])
            request.upload_file_max_bytes = _value(limits[1])
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request_max is not None and length > request_max:
            body = render_to_string(
                "request_too_large.html",
                {"size": filesizeformat(length), "limit": filesizeformat(request_max)},
                request=request,
            )
            # Nothing of the body was read: close the connection rather than drain it.
            response = HttpResponse(body, status=413)
            response["Connection"] = "close"
            return response
        return None


class BoundedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: refuses to go on past a file over the view's limit. The
    view finds the name in ``request.upload_too_large`` and says so."""

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        self.limit = getattr(self.request, "upload_file_max_bytes", None)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.limit is not None and self.received > self.limit:
            self.request.upload_too_large = self.file_name
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None
