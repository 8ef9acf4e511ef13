"""Checks on uploaded files. The type comes from the file's content (libmagic), never from its
name, so an executable renamed ``letter.pdf`` is refused."""

import hashlib

import magic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from .models import Attachment

ALLOWED_TYPES_TEXT = "PDF, JPEG, PNG, TIFF or plain text (.txt)"
# Text that a browser or EMR could run or render as markup is not "plain text".
_TEXT_REFUSED = {"text/html", "text/xml", "text/javascript", "image/svg+xml", "text/x-php"}


def attachment_detect_type(head: bytes) -> str | None:
    """The attachment kind for these first bytes, or None when it is not an allowed type."""
    mime = magic.from_buffer(head, mime=True)
    if mime in Attachment.Kind.values:
        return mime
    if mime.startswith("text/") and mime not in _TEXT_REFUSED:
        return Attachment.Kind.TEXT
    return None


def attachment_inspect(upload: UploadedFile) -> tuple[str, str]:
    """Return ``(content type, sha256)`` for an upload, or raise ``ValidationError`` naming the
    file and the problem."""
    name = upload.name
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size == 0:
        raise ValidationError(f"“{name}” is empty. Choose the file again.", code="empty")
    if upload.size > limit:
        raise ValidationError(
            f"“{name}” is {filesizeformat(upload.size)}; each file may be at most "
            f"{filesizeformat(limit)}.",
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(8192)
    content_type = attachment_detect_type(head)
    if content_type is None:
        described = magic.from_buffer(head)
        raise ValidationError(
            f"“{name}” is not an allowed file type (its content is: {described[:80]}). "
            f"Attach a {ALLOWED_TYPES_TEXT} file.",
            code="type",
        )
    digest = hashlib.sha256(head)
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(chunk)
    upload.seek(0)
    return content_type, digest.hexdigest()
