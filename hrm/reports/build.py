"""``report_build(report) -> bytes``: one HRM file (``OmdCds``, schema v1.1.2), compact and
single-line like HRM's own output. One file carries one report (typed text or one attached file)
for one recipient. ``report_file_build`` builds it in the form that is validated: an attached
file's base64 cut to its head, the rest written in afterwards (``BuiltFile``)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pybase64
from lxml import etree

from hrm.reports.text import (
    _line,
    author_name_hrm,
    emr_text_prepare,
    event_datetime_text,
    file_extension_normalise,
    province_code,
)
from hrm.reports.types import (
    _NSMAP,
    OBSERVATION_CLASSES,
    TEXT_FILE_EXTENSION,
    XML_DECLARATION,
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportText,
    _cds,
    _dt,
)


def _add(parent: etree._Element, tag: str, text: str | bytes | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _add_name(parent: etree._Element, tag: str, first: str, last: str) -> None:
    person = _add(parent, _cds(tag))
    _add(person, _dt("FirstName"), _line(first))
    _add(person, _dt("LastName"), _line(last))


def _add_author(parent: etree._Element, author: ReportPerson) -> None:
    person = _add(parent, _cds("AuthorPhysician"))
    _add(person, _dt("LastName"), author_name_hrm(author.first_name, author.last_name))


def _build_demographics(record: etree._Element, patient: ReportPatient) -> None:
    demographics = _add(record, _cds("Demographics"))
    legal = _add(_add(demographics, _cds("Names")), _dt("LegalName"))
    legal.set("namePurpose", "L")  # unqualified: declared in cds_dt
    first = _add(legal, _dt("FirstName"))
    _add(first, _dt("Part"), _line(patient.first_name))
    _add(first, _dt("PartType"), "GIV")
    last = _add(legal, _dt("LastName"))
    _add(last, _dt("Part"), _line(patient.last_name))
    _add(last, _dt("PartType"), "FAMC")
    born = patient.date_of_birth
    _add(
        _add(demographics, _cds("DateOfBirth")),
        _dt("FullDate"),
        f"{born.year:04d}-{born.month:02d}-{born.day:02d}",
    )
    card = _add(demographics, _cds("HealthCard"))
    _add(card, _dt("Number"), _line(patient.health_card_number))
    version = _line(patient.health_card_version)
    if version:
        _add(card, _dt("Version"), version)
    _add(card, _dt("ProvinceCode"), province_code(patient.health_card_province))
    _add(demographics, _cds("Gender"), _line(patient.sex))
    _add(demographics, _cds("UniqueVendorIdSequence"), "0")  # what HRM writes
    _add(demographics, _cds("PersonStatusCode"), "A")


def _build_reports_received(record: etree._Element, report: Report) -> None:
    received = _add(record, _cds("ReportsReceived"))
    _add(received, _cds("Media"), "Download")  # how it was delivered, never the payload
    content = report.content
    if isinstance(content, ReportText):
        _add(received, _cds("Format"), "Text")
        _add(received, _cds("FileExtensionAndVersion"), TEXT_FILE_EXTENSION)
        body = _add(received, _cds("Content"))
        _add(body, _dt("TextContent"), emr_text_prepare(content.text).text)
    elif isinstance(content, ReportFile):
        _add(received, _cds("Format"), "Binary")
        _add(
            received,
            _cds("FileExtensionAndVersion"),
            file_extension_normalise(content.file_extension),
        )
        body = _add(received, _cds("Content"))
        # lxml takes ASCII bytes as text; the file is cut to its head (``BuiltFile``)
        _add(body, _dt("Media"), pybase64.b64encode(content.data[:_HEAD_BYTES]))
    else:
        raise TypeError(f"A report's content is ReportText or ReportFile, not {type(content)!r}.")
    report_class = _line(report.report_class)
    _add(received, _cds("Class"), report_class)
    subclass = _line(report.subclass)
    if subclass:
        _add(received, _cds("SubClass"), subclass)
    when = event_datetime_text(report.event_datetime)
    _add(_add(received, _cds("EventDateTime")), _dt("DateTime"), when)
    _add_author(received, report.author)
    _add(received, _cds("SendingFacility"), _line(report.sending_facility))
    _add(
        received, _cds("SendingFacilityReportNumber"), _line(report.sending_facility_report_number)
    )
    if report_class in OBSERVATION_CLASSES:
        # Without an observation date OSCAR drops imaging and cardio-respiratory reports.
        observation = _add(_add(received, _cds("OBRContent")), _cds("ObservationDateTime"))
        _add(observation, _dt("DateTime"), when)
    _add(received, _cds("ResultStatus"), _line(report.result_status))


def _build_transaction_information(record: etree._Element, report: Report) -> None:
    transaction = _add(record, _cds("TransactionInformation"))
    _add(transaction, _cds("MessageUniqueID"), _line(report.transaction_id))
    _add(transaction, _cds("DeliverToUserID"), _line(report.recipient.professional_id))
    _add_name(transaction, "Provider", report.recipient.first_name, report.recipient.last_name)


# An attached file's first 3,072 bytes: 4,096 base64 characters, the most any check reads (the
# file's signature; the schema's base64Binary holds as well for the head as for the whole).
_HEAD_BYTES = 3072
_CHUNK_BYTES = 3 * 64 * 1024  # encoded one piece at a time: no second copy of the whole file


@dataclass(frozen=True)
class BuiltFile:
    """A report's file as ``report_file_build`` makes it. ``checked``: the file with an attached
    file's base64 cut to its first 4,096 characters, the form validation reads (parsing,
    schema-checking and serialising megabytes of base64 took most of a PDF report's time and
    memory). ``whole()``: the file itself, the rest of the base64 written in between the same
    bytes. base64 output is valid ``base64Binary`` and holds no character XML escapes, so the
    whole file passes exactly the checks the cut one passes (tests/hrm/test_report_cut.py)."""

    checked: bytes
    data: bytes | None = None  # the attached file, when its base64 was cut
    cut_at: int = 0  # where that base64 starts in ``checked``

    @property
    def size(self) -> int:
        """The whole file's size in bytes."""
        if self.data is None:
            return len(self.checked)
        return len(self.checked) + 4 * -(-len(self.data) // 3) - 4 * _HEAD_BYTES // 3

    def whole(self) -> bytes:
        if self.data is None:
            return self.checked
        data, out = self.data, io.BytesIO()
        out.write(memoryview(self.checked)[: self.cut_at])
        with memoryview(data) as view:
            for start in range(0, len(data), _CHUNK_BYTES):
                out.write(pybase64.b64encode(view[start : start + _CHUNK_BYTES]))
        out.write(memoryview(self.checked)[self.cut_at + 4 * _HEAD_BYTES // 3 :])
        return out.getvalue()  # the buffer itself, not a copy


def report_file_build(report: Report) -> BuiltFile:
    """The HRM file for ``report``: UTF-8, XML declaration, one line, nothing between elements.

    Builds whatever it is given (after ``xml_text_clean``); ``report_validate`` on ``checked``
    says what is wrong. Raises ``ValueError`` only for a naive event time and ``TypeError`` for
    unknown content.
    """
    root = etree.Element(_cds("OmdCds"), nsmap=_NSMAP)
    record = etree.SubElement(root, _cds("PatientRecord"))
    _build_demographics(record, report.patient)
    _build_reports_received(record, report)
    _build_transaction_information(record, report)
    # lxml writes no declaration for UTF-8, and a newline after one when asked for it; HRM's
    # files are a single line, so the declaration is written here, into the buffer lxml then
    # writes the file into: getvalue hands that buffer over without a copy.
    out = io.BytesIO()
    out.write(XML_DECLARATION)
    etree.ElementTree(root).write(out, encoding="UTF-8")
    checked = out.getvalue()
    content = report.content
    if not isinstance(content, ReportFile) or len(content.data) <= _HEAD_BYTES:
        return BuiltFile(checked)
    # The head is 4,096 base64 characters between tags: nothing else in a file is that long.
    head = b">" + pybase64.b64encode(content.data[:_HEAD_BYTES]) + b"<"
    cut_at = checked.index(head) + 1
    return BuiltFile(checked, content.data, cut_at)


def report_build(report: Report) -> bytes:
    """The whole HRM file for ``report`` (``report_file_build``)."""
    return report_file_build(report).whole()
