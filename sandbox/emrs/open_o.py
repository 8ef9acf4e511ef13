"""Open-O (openo-beta/Open-O, the maintained OSCAR fork Ontario clinics run in 2026): OSCAR's
parser and document lists, plus the refusals of ``HRMXmlValidator`` and ``HRMReportValidator``
(HRM-FORMAT.md 11.5), the author as its report page shows it, and its registry of HRM Sending
Facilities: a report from an unregistered one is filed, with the raw ID shown and a notice for
the clinic's administrator."""

from __future__ import annotations

import datetime
import io
import re

from pypdf import PdfReader

from sandbox.reading import HrmFile, empty_required_elements
from sandbox.rules import TEXT_EXTENSION, java_split

from .base import Emr

# Open-O's BinaryFileExtension: OntarioMD's data-dictionary list, each checked against the content.
BINARY_EXTENSIONS = (".pdf", ".tiff", ".rtf", ".jpeg", ".gif", ".png", ".html")
# The image readers recognise a format by its first bytes.
_IMAGE_SIGNATURES = {
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".png": (b"\x89PNG\r\n\x1a\n",),
}
_HTML_TAG = re.compile(r"<(html|head|body|div|span|p|table|ul|li|br|h[1-6])\b[^>]*>", re.I | re.S)


def _pdf_opens(data: bytes) -> bool:
    # Open-O loads the file with PDFBox; pypdf is as forgiving of small damage.
    try:
        len(PdfReader(io.BytesIO(data)).pages)
    except Exception:  # noqa: BLE001 — any failure to open means "not a PDF", as for PDFBox
        return False
    return True


def content_matches(extension: str, data: bytes) -> bool:
    """Whether ``data`` is a file of the kind ``extension`` names, as Open-O decides it."""
    if not data:
        return False
    extension = extension.lower()
    if extension == ".pdf":
        return _pdf_opens(data)
    if extension == ".rtf":
        return data.startswith(b"{\\rtf")
    if extension == ".html":
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff").strip()
        lowered = text[:14].lower()
        return bool(text) and (
            lowered.startswith("<!doctype html")
            or lowered.startswith("<html")
            or bool(_HTML_TAG.search(text))
        )
    signatures = _IMAGE_SIGNATURES.get(extension)
    return bool(signatures) and data.startswith(signatures)


def _date_of_birth_problem(value: str) -> str | None:
    """Open-O refuses a date of birth before 1800 or in the future (a partial date counts from
    its first day)."""
    match = re.match(r"(-?\d{4,})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not match:
        return None  # the schema has already refused what is not a date
    year = int(match[1])
    if year < 1800:
        return f"the patient's date of birth ({value}) is before 1800"
    try:
        born = datetime.date(year, int(match[2] or 1), int(match[3] or 1))
    except ValueError:
        return f"the patient's date of birth ({value}) is not a real date"
    if born > datetime.date.today():
        return f"the patient's date of birth ({value}) is in the future"
    return None


def open_o_refusals(hrm: HrmFile) -> list[str]:
    problems = [
        f"the required element {name} (in {parent}) is present but empty"
        for parent, name in empty_required_elements(hrm.tree)
    ]
    if hrm.format == "Text" and hrm.file_extension != TEXT_EXTENSION:
        problems.append(
            f"a text report's FileExtensionAndVersion must be '{TEXT_EXTENSION}'; "
            f"it is '{hrm.file_extension}'"
        )
    if hrm.format == "Binary":
        extension = hrm.file_extension
        if extension.lower() not in BINARY_EXTENSIONS:
            problems.append(
                f"an attachment's FileExtensionAndVersion must be one of "
                f"{' '.join(BINARY_EXTENSIONS)}; it is '{extension}'"
            )
        elif hrm.file_data is not None and not content_matches(extension, hrm.file_data):
            problems.append(
                f"the attachment is named {extension} but its content is not a "
                f"{extension[1:].upper()} file"
            )
    problem = _date_of_birth_problem(hrm.date_of_birth)
    if problem:
        problems.append(problem)
    return problems


UNREGISTERED_FACILITY = "Unregistered HRM Sending Facility"


class OpenO(Emr):
    name = "open-o"
    label = "Open-O"
    rules_in_words = (
        "the v1.1.2 schema and OSCAR's required fields; then Open-O's refusals: a required "
        "element present but empty, a text report whose FileExtensionAndVersion is not 'From OMD "
        "Report Manager', an attachment not in .pdf .tiff .rtf .jpeg .gif .png .html or whose "
        "content is not that format, a date of birth before 1800 or in the future; then OSCAR's "
        "duplicate hashes and similar-report check (a report scoring 45 or more against an "
        "older one of the same patient is hidden); one document per version chain; a Sending "
        "Facility missing from its registry is flagged."
    )

    def refusals(self, hrm: HrmFile) -> str:
        dropped = super().refusals(hrm)
        if dropped:
            return dropped
        refused = open_o_refusals(hrm)
        if refused:
            return f"Open-O refuses this file: {'; '.join(refused)}."
        return ""

    def author_shown(self, hrm: HrmFile) -> str:
        """``HRMReport.getFirstReportAuthorPhysician``: ``LastName`` split on ``^`` (the Java
        way); exactly seven parts are HRM's ``ID^LAST^FIRST^MIDDLE^SUFFIX^PREFIX^DEGREE`` and
        parts 0, 1, 2, 3 and 6 are shown; otherwise every part of ``LastName`` then every part
        of ``FirstName``. The page writes each part followed by a space."""
        last, first = hrm.author_last_name, hrm.author_first_name
        if last is None and first is None:
            return ""
        parts = java_split(last) if last is not None else []
        if len(parts) == 7:
            parts = [parts[0], parts[1], parts[2], parts[3], parts[6]]
        else:
            parts += java_split(first) if first is not None else []
        return " ".join(part.strip() for part in parts if part.strip())

    def facility_notice(self, sending_facility: str) -> str:
        # Imported here: the registry is the sandbox's table, read at filing time.
        from sandbox.models import EmrSendingFacility

        if EmrSendingFacility.objects.filter(facility_id=sending_facility).exists():
            return ""
        return (
            f"{UNREGISTERED_FACILITY}: '{sending_facility}'. Filed; the clinic's administrator "
            "is asked to register it (its name, and how its reports are filed)."
        )
