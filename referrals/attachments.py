"""Checks on uploaded files. The type comes from the file's content (libmagic), never from its
name, so an executable renamed ``letter.pdf`` is refused. Plain text is the one kind a name can
turn into a program (``run.bat``, ``script.vbs`` and ``page.hta`` all hold text), so a text file
must also be *named* ``.txt``; and every download is named with the extension of its checked
content (``run.hta`` holding a PDF downloads as ``run.pdf``), never the uploader's."""

import hashlib
import re
from pathlib import PurePath

import magic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .models import Attachment

ALLOWED_TYPES_TEXT = "PDF, JPEG, PNG, TIFF or plain text (.txt)"
# The only name a plain-text attachment may have: Windows runs .bat, .cmd, .vbs, .js and .hta
# files on a double-click, and they are all text.
TEXT_EXTENSION = ".txt"


def attachment_detect_type(head: bytes) -> str | None:
    """The attachment kind for these first bytes, or None when it is not an allowed type. Text
    counts only when libmagic calls it exactly ``text/plain``: shell scripts, batch files, HTML,
    XML and the like are refused whatever they are called."""
    mime = magic.from_buffer(head, mime=True)
    if mime in Attachment.Kind.values:
        return mime
    return None


def attachment_download_name(original_name: str, content_type: str) -> str:
    """The name a download carries: what the uploader called it, with the extension its content
    was checked to have (``scan.PNG`` is ``scan.png``, ``run.hta`` holding a PDF is
    ``run.pdf``)."""
    stem = PurePath(original_name.replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem.lstrip(".")
    return f"{stem.strip() or 'attachment'}{Attachment.EXTENSIONS[content_type]}"


def _pdf_opens(upload: UploadedFile) -> bool:
    """Whether the file opens as a PDF, as Open-O checks with PDFBox before filing a report."""
    upload.seek(0)
    try:
        len(PdfReader(upload).pages)
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, OSError):
        return False
    return True


def _size_text(size: int) -> str:
    return f"{filesizeformat(size)} ({size:,} bytes)"


# What browsers escape in a multipart file name (the HTML standard's multipart/form-data
# encoding): a quote becomes %22, a line break %0A or %0D. A file name cannot hold a line break
# on the systems people upload from, so one comes back as a space.
_BROWSER_NAME_ESCAPES = {"%22": '"', "%0A": " ", "%0D": " "}
_BROWSER_NAME_ESCAPE = re.compile("|".join(_BROWSER_NAME_ESCAPES))


def upload_name_restore(name: str) -> str:
    """An uploaded file's name as the user chose it: ``Dr %22Lee%22.pdf`` -> ``Dr "Lee".pdf``."""
    return _BROWSER_NAME_ESCAPE.sub(lambda escape: _BROWSER_NAME_ESCAPES[escape[0]], name)


def attachment_too_large_error(name: str) -> ValidationError:
    """For an upload stopped as it passed the limit (its full size was never read)."""
    return ValidationError(
        f"“{name}” is larger than the {_size_text(settings.ATTACHMENT_MAX_BYTES)} allowed for "
        "each file. Nothing was sent.",
        code="too_large",
    )


def attachment_inspect(upload: UploadedFile) -> tuple[str, str]:
    """Return ``(content type, sha256)`` for an upload, or raise ``ValidationError`` naming the
    file and the problem. The form and then the service check each upload: the answer is kept
    on the upload, so its content is read, hashed and opened as a PDF once (an upload whose
    file, name or size changed since is checked again)."""
    kept = getattr(upload, "_attachment_inspected", None)
    if kept is not None and kept[0] is upload.file and kept[1] == (upload.name, upload.size):
        upload.seek(0)
        return kept[2]
    inspected = _attachment_check(upload)
    upload._attachment_inspected = (upload.file, (upload.name, upload.size), inspected)
    return inspected


def _attachment_check(upload: UploadedFile) -> tuple[str, str]:
    name = upload.name
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size == 0:
        raise ValidationError(f"“{name}” is empty. Choose the file again.", code="empty")
    if upload.size > limit:
        # Both sizes in bytes too: 10 MB and 10 MB + 1 byte both round to "10.0 MB".
        raise ValidationError(
            f"“{name}” is {_size_text(upload.size)}, larger than the {_size_text(limit)} "
            "allowed for each file.",
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
    if content_type == Attachment.Kind.TEXT and not name.lower().endswith(TEXT_EXTENSION):
        raise ValidationError(
            f"“{name}” holds text but is not named .txt: a name like this can make a computer "
            "run the file as a program. Only plain text named .txt can be attached; rename it, "
            "or save it as PDF.",
            code="text_name",
        )
    if content_type == Attachment.Kind.PDF and not _pdf_opens(upload):
        raise ValidationError(
            f"“{name}” starts like a PDF but cannot be opened as one (it may be damaged or cut "
            "short); the EMRs that receive HRM reports refuse such a file. Save or export it as "
            "PDF again and attach that.",
            code="damaged_pdf",
        )
    upload.seek(len(head))
    digest = hashlib.sha256(head)
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(chunk)
    upload.seek(0)
    return content_type, digest.hexdigest()
