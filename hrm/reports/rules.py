"""The receivers' rules beyond the schema (HRM-FORMAT.md section 14): what Open-O, OSCAR and
Juno refuse or mangle, each found as a problem in plain words for ``report_validate``."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime

from lxml import etree

from directory.text_limits import EARLIEST_BIRTH_DATE, utf16_length
from hrm.reports.problems import _key, _label, _Problem
from hrm.reports.reading import _Fields
from hrm.reports.text import markup_present
from hrm.reports.types import (
    BINARY_FILE_EXTENSIONS,
    OBSERVATION_CLASSES,
    REPORT_CLASSES,
    REPORT_TIME_ZONE,
    SEXES,
    TEXT_FILE_EXTENSION,
    _cds,
)

_PROFESSIONAL_ID = re.compile(r"[DN][0-9]{1,8}")
_SUBCLASS = re.compile(r"[^^]*(\^[^^]+)?")
_FILE_EXTENSION = re.compile(r"\.[a-z0-9]+")
# The first bytes of the file types whose extension OSCAR recognises: a mismatch shows as a broken
# download or image in the chart.
_SIGNATURES = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".rtf": (b"{\\rtf",),
}


def _rule_problems(tree: etree._ElementTree) -> list[_Problem]:
    """The receivers' rules of HRM-FORMAT.md section 14 that can be checked on one file."""
    problems: list[_Problem] = []

    def problem(key: str, words: str) -> None:
        problems.append(_Problem(key, words))

    element = tree.getroot().find(_cds("PatientRecord"))
    if element is None:
        return problems  # the schema says so; nothing else can be checked
    record = _Fields(element)

    # Row 4: one report, one recipient, one file (the EMRs read only the first of each).
    reports, recipients = record.count("ReportsReceived"), record.count("TransactionInformation")
    if reports != 1:
        problem(
            "ReportsReceived",
            f"the file must carry exactly one report (ReportsReceived), it has {reports}",
        )
    if recipients != 1:
        problem(
            "TransactionInformation",
            f"the file must carry exactly one recipient (TransactionInformation), it has "
            f"{recipients}",
        )
    problems.extend(_length_problems(record))
    if record.has("Demographics"):
        problems.extend(_patient_problems(record))
    if reports:
        problems.extend(_report_problems(record))
    if recipients:
        problems.extend(_recipient_problems(record))
    named = {found.key for found in problems}
    problems.extend(found for found in _empty_problems(element) if found.key not in named)
    return problems


def _today_in_ontario() -> date:
    return datetime.now(REPORT_TIME_ZONE).date()


def _empty_problems(record: etree._Element) -> list[_Problem]:
    """Row 21: Open-O refuses a file with a required element present but empty. Every element
    this sender writes is required once written, so none may be empty."""
    problems = []
    for element in record.iter():
        if not isinstance(element.tag, str) or len(element):
            continue
        if not (element.text or "").strip():
            key = _key(element)
            problems.append(_Problem(key, f"{_label(key)} is empty"))
    return problems


# The schema's maximum lengths of the fields this sender fills. libxml2 counts characters; the
# receivers' Java validators count UTF-16 code units, in which a character outside the basic plane
# (an emoji, a mathematical letter) counts twice. Checked here the receivers' way.
_MAX_UTF16_LENGTHS = {
    "Demographics/Names/LegalName/FirstName/Part": 50,
    "Demographics/Names/LegalName/LastName/Part": 50,
    "Demographics/HealthCard/Number": 20,
    "Demographics/HealthCard/Version": 2,
    "ReportsReceived/FileExtensionAndVersion": 50,
    "ReportsReceived/SubClass": 60,
    "ReportsReceived/AuthorPhysician/FirstName": 60,
    "ReportsReceived/AuthorPhysician/LastName": 60,
    "ReportsReceived/SendingFacility": 4,
    "ReportsReceived/SendingFacilityReportNumber": 75,
    "TransactionInformation/MessageUniqueID": 250,
    "TransactionInformation/DeliverToUserID": 9,
    "TransactionInformation/Provider/FirstName": 60,
    "TransactionInformation/Provider/LastName": 60,
}


def _length_problems(record: _Fields) -> list[_Problem]:
    problems = []
    for key, limit in _MAX_UTF16_LENGTHS.items():
        length = utf16_length(record.text(key))
        if length > limit:
            problems.append(
                _Problem(
                    key,
                    f"{_label(key)} is too long: it has {length} characters as the EMRs count "
                    f"them, at most {limit} are allowed",
                )
            )
    return problems


def _patient_problems(record: _Fields) -> list[_Problem]:
    """Rows 7 and 8: what the EMRs need to match the patient's chart."""
    problems: list[_Problem] = []

    def problem(key: str, words: str) -> None:
        problems.append(_Problem(f"Demographics/{key}", words))

    for which in ("First", "Last"):
        part = f"Names/LegalName/{which}Name/Part"
        if record.has(f"Demographics/{part}") and not record.text(f"Demographics/{part}").strip():
            problem(part, f"the patient's legal {which.lower()} name is missing")
    if (
        record.has("Demographics/Gender")
        and record.text("Demographics/Gender").strip() not in SEXES
    ):
        problem("Gender", "the patient's sex must be one of M, F, O, U, as on the patient's chart")
    if record.has("Demographics/DateOfBirth") and not record.has(
        "Demographics/DateOfBirth/FullDate"
    ):
        problem(
            "DateOfBirth",
            "the patient's date of birth must be a full date (year, month and day): the EMRs "
            "compare it with the chart",
        )
    else:
        born = record.text("Demographics/DateOfBirth/FullDate")
        # Row 21: Open-O refuses a date of birth before 1800 or in the future.
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", born) and not (
            EARLIEST_BIRTH_DATE.isoformat() <= born <= _today_in_ontario().isoformat()
        ):
            problem(
                "DateOfBirth",
                "the patient's date of birth must be between 1800 and today: Open-O refuses "
                "any other",
            )
    if not record.has("Demographics/HealthCard"):
        problem(
            "HealthCard", "the patient's health card is missing: OSCAR drops a report without one"
        )
        return problems
    number = record.text("Demographics/HealthCard/Number")
    ontario = record.text("Demographics/HealthCard/ProvinceCode").strip() == "CA-ON"
    if not number.strip():
        problem("HealthCard/Number", "the patient's health card number is missing")
    elif ontario and not re.fullmatch(r"[0-9]{10}", number):
        problem(
            "HealthCard/Number",
            "the patient's health card number must be 10 digits, with no spaces, dashes or "
            "version code (the version code goes in its own field)",
        )
    if ontario and not re.fullmatch(r"[A-Z]{0,2}", record.text("Demographics/HealthCard/Version")):
        problem(
            "HealthCard/Version",
            "the patient's health card version code must be at most two capital letters",
        )
    return problems


def _recipient_problems(record: _Fields) -> list[_Problem]:
    """Rows 5 and 6: routing to the recipient, and the Transaction ID."""
    problems: list[_Problem] = []

    def problem(key: str, words: str) -> None:
        problems.append(_Problem(f"TransactionInformation/{key}", words))

    if (
        record.has("TransactionInformation/MessageUniqueID")
        and not record.text("TransactionInformation/MessageUniqueID").strip()
    ):
        problem("MessageUniqueID", "the Transaction ID is empty")
    if record.has("TransactionInformation/DeliverToUserID"):
        user = record.text("TransactionInformation/DeliverToUserID")
        if not _PROFESSIONAL_ID.fullmatch(user):
            problem(
                "DeliverToUserID",
                "the recipient's Professional ID must be D (CPSO number) or N (CNO number) "
                f"followed by up to 8 digits, with no spaces, e.g. D12345; it is '{user}'",
            )
    if record.has("TransactionInformation/Provider"):
        for which in ("FirstName", "LastName"):
            if not record.text(f"TransactionInformation/Provider/{which}").strip():
                problem(f"Provider/{which}", f"{_label('Provider/' + which)} is missing")
    return problems


def _report_problems(record: _Fields) -> list[_Problem]:
    """Rows 9 to 17, for the first ReportsReceived."""
    problems: list[_Problem] = []

    def problem(key: str, words: str) -> None:
        problems.append(_Problem(f"ReportsReceived/{key}", words))

    def text(key: str) -> str:
        return record.text(f"ReportsReceived/{key}")

    def has(key: str) -> bool:
        return record.has(f"ReportsReceived/{key}")

    # Row 14: Media is how the report travelled, and HRM writes Download.
    if text("Media") != "Download":
        problem("Media", "the delivery medium (ReportsReceived/Media) must be 'Download'")

    # Rows 11, 12, 13: typed text or one file, never both.
    report_format, extension = text("Format"), text("FileExtensionAndVersion")
    has_text, has_file = has("Content/TextContent"), has("Content/Media")
    if not has("Format"):
        problem("Format", "the report format (Text or Binary) is missing: Juno needs it")
    if not has("Content"):
        problem("Content", "the report has no content")
    elif has_text and has_file:
        problem(
            "Content",
            "a report carries either typed text or one attached file, never both: send them as "
            "two reports in two files",
        )
    if report_format == "Text" and not has_text:
        problem("Content/TextContent", "a Text report must carry its text in TextContent")
    if report_format == "Text" and extension != TEXT_FILE_EXTENSION:
        problem(
            "FileExtensionAndVersion",
            f"a text report's FileExtensionAndVersion must be '{TEXT_FILE_EXTENSION}', as HRM "
            f"writes it (Open-O refuses any other); it is '{extension}'",
        )
    if has_text and markup_present(text("Content/TextContent")):
        problem(
            "Content/TextContent",
            "the message text contains markup (a tag or a character reference) that OSCAR "
            "would show as formatting, not as typed",
        )
    if has_text and report_format != "Text":
        problem("Format", "a report carrying typed text must have Format 'Text'")
    if has_file and report_format != "Binary":
        problem("Format", "a report carrying a file must have Format 'Binary'")
    if report_format == "Binary":
        if not has_file:
            problem("Content/Media", "a Binary report must carry its file in Content/Media")
        if not _FILE_EXTENSION.fullmatch(extension):
            problem(
                "FileExtensionAndVersion",
                "the attached file's extension must be lower case with its leading dot, e.g. "
                f"'.pdf'; it is '{extension}'",
            )
        elif extension not in BINARY_FILE_EXTENSIONS:
            problem(
                "FileExtensionAndVersion",
                f"the attached file's extension must be one of {', '.join(BINARY_FILE_EXTENSIONS)} "
                f"(OntarioMD's data dictionary; Open-O refuses any other); it is '{extension}'",
            )
        if has_file:
            problems.extend(_attached_file_problems(text("Content/Media"), extension))

    # Rows 9 and 10: class, and the report date OSCAR needs for it.
    report_class = text("Class")
    if not has("Class"):
        problem("Class", "the report class is missing: OSCAR drops a report without one")
    elif report_class not in REPORT_CLASSES:
        problem(
            "Class",
            f"the report class must be one of {', '.join(REPORT_CLASSES)}; it is '{report_class}'",
        )
    if report_class in OBSERVATION_CLASSES:
        observations = [
            node
            for node in record.get("ReportsReceived").iterfind(
                "{cds}OBRContent/{cds}ObservationDateTime"
            )
            if len(node) and node[0].text
        ]
        if not observations:
            problem(
                "OBRContent",
                f"a '{report_class}' needs an observation date (OBRContent/ObservationDateTime): "
                "OSCAR drops it otherwise",
            )
    elif not record.date("ReportsReceived/EventDateTime"):
        problem(
            "EventDateTime",
            "the report's date and time (EventDateTime) is missing: OSCAR drops it otherwise",
        )

    # Row 17: OSCAR splits the subclass on '^' and shows the part after it.
    if has("SubClass"):
        subclass = text("SubClass")
        if not subclass.strip():
            problem("SubClass", "the report subclass is empty: leave it out instead")
        elif not _SUBCLASS.fullmatch(subclass):
            problem(
                "SubClass",
                "the report subclass must be plain text or code^description, with a description "
                f"after a single '^'; it is '{subclass}'",
            )

    # Product rule: the chart shows who wrote the letter, and Open-O and Juno show an author only
    # from HRM's 7-part caret name in LastName (ID^LAST^FIRST^MIDDLE^SUFFIX^PREFIX^DEGREE).
    author = text("AuthorPhysician/LastName")
    parts = author.split("^")
    if not author.strip():
        problem("AuthorPhysician/LastName", "the author's name is missing")
    elif len(parts) != 7 or not parts[1].strip():
        problem(
            "AuthorPhysician/LastName",
            "the author's name must be HRM's caret name '^Last^First^^^^' (7 parts, the last "
            "name second): Open-O and Juno show no author otherwise",
        )

    # Rows 15 and 16: OSCAR's version key, and the status.
    if not text("SendingFacility").strip():
        problem("SendingFacility", "the sending facility ID assigned by OntarioMD is missing")
    if not text("SendingFacilityReportNumber").strip():
        problem("SendingFacilityReportNumber", "the sending facility report number is missing")
    status = text("ResultStatus")
    if status != "S":
        problem(
            "ResultStatus",
            f"the result status must be 'S' (signed, final); it is '{status}'"
            if status
            else "the result status is missing; it must be 'S' (signed, final)",
        )
    return problems


# Base64 characters enough for the longest signature above (8 bytes).
_HEAD_CHARS = 16


def _attached_file_problems(encoded: str, extension: str) -> list[_Problem]:
    key = "ReportsReceived/Content/Media"
    # Only the file's first bytes are needed for its type: decoding the whole file would cost
    # about 0.8 ms per 200 KB, on every report. (Files built here are always valid base64; the
    # schema rejects most damage in others.)
    head = "".join(encoded[:4096].split())
    if len(head) < _HEAD_CHARS and len(encoded) > 4096:
        head = "".join(encoded.split())  # a file that opens with a lot of white space
    try:
        data = base64.b64decode(head[:_HEAD_CHARS], validate=True)
    except binascii.Error:
        return []  # the schema reports bad base64 in its own words
    if not data:
        return [_Problem(key, "the attached file is empty")]
    signatures = _SIGNATURES.get(extension)
    if signatures and not data.startswith(signatures):
        kind = extension[1:].upper()
        return [
            _Problem(
                key,
                f"the attached file is named {extension} but its content is not a {kind} "
                f"(a {kind} starts with {signatures[0]!r})",
            )
        ]
    return []
