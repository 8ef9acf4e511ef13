"""One HRM report file: describe it, build its XML, check it.

The file is the ``OmdCds`` XML that HRM hands to an EMR (schema "HRM XML Schema Definition v1.1.2",
see docs/HRM-FORMAT.md). One file carries one report (typed text *or* one attached file) for one
recipient. Two public steps:

- ``report_build(report) -> bytes``: the file, compact and single-line like HRM's own output;
- ``report_validate(xml_bytes, schema_path)``: the schema plus the receivers' rules (HRM-FORMAT.md
  section 14), raising ``ReportInvalid`` with problems in plain words.

Reading a file as an EMR does is left to the receiving side (the demo's stand-in EMR has its own
reader), so a reader sharing this module's assumptions cannot hide a fault in it.

Text XML 1.0 cannot carry is cleaned, never escaped, by ``xml_text_clean`` (see its docstring);
``emr_text_prepare`` also keeps typed text from acting as markup in OSCAR and says what it changed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html.entities
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from lxml import etree

from directory.text_limits import EARLIEST_BIRTH_DATE, utf16_length

CDS = "cds"
CDS_DT = "cds_dt"
# ``cds`` must be the default namespace: OSCAR's duplicate checks run regular expressions over the
# raw text looking for unprefixed tags. ``cdsd`` is the prefix OSCAR's own fixtures use.
_NSMAP = {None: CDS, "cdsd": CDS_DT}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

REPORT_CLASSES = (
    "Diagnostic Imaging Report",
    "Diagnostic Test Report",
    "Other Letter",
    "Consultant Report",
    "Medical Records Report",
    "Cardio Respiratory Report",
)
# OSCAR takes the report date of these two classes from OBRContent/ObservationDateTime.
OBSERVATION_CLASSES = ("Diagnostic Imaging Report", "Cardio Respiratory Report")
DEFAULT_CLASS = "Consultant Report"
DEFAULT_SUBCLASS = "11488-4^Consult note"
SEXES = ("M", "F", "O", "U")
# HRM writes local Ontario time without an offset; receivers treat it as their (Ontario) local time.
REPORT_TIME_ZONE = ZoneInfo("America/Toronto")
# What every real HRM text report carries in FileExtensionAndVersion; Open-O refuses a text report
# with anything else (HRM-FORMAT.md section 9).
TEXT_FILE_EXTENSION = "From OMD Report Manager"
# The binary extensions of OntarioMD's HRM data dictionary: Open-O refuses a binary report with any
# other (``.jpg``, ``.tif`` and ``.txt`` included), and OSCAR knows a MIME type for each.
BINARY_FILE_EXTENSIONS = (".pdf", ".tiff", ".rtf", ".jpeg", ".gif", ".png", ".html")
_EXTENSION_ALIASES = {".jpg": ".jpeg", ".jpe": ".jpeg", ".tif": ".tiff", ".htm": ".html"}


# --- What a report is ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPatient:
    """The patient exactly as on their chart: the EMRs match last name, sex, date of birth and
    health card number to file the report to the right chart."""

    first_name: str
    last_name: str
    date_of_birth: date
    sex: str  # M, F, O or U
    health_card_number: str  # Ontario: the 10 digits only
    health_card_version: str = ""  # at most two letters, never inside the number
    health_card_province: str = "ON"  # "ON" becomes ProvinceCode "CA-ON"


@dataclass(frozen=True)
class ReportPerson:
    """A clinician by name: the author (sender) of the report."""

    first_name: str
    last_name: str


@dataclass(frozen=True)
class ReportRecipient:
    """The clinician the file is delivered to; ``professional_id`` becomes ``DeliverToUserID``
    (``D`` + CPSO number or ``N`` + CNO number)."""

    professional_id: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class ReportText:
    """Typed text: plain text, line breaks kept."""

    text: str


@dataclass(frozen=True)
class ReportFile:
    """One attached file, sent as a binary report. ``file_extension`` may be ``.PDF``, ``pdf`` or a
    file name; it is sent as the lower-case dotted extension of the HRM data dictionary (``.jpg``
    as ``.jpeg``, ``.tif`` as ``.tiff``)."""

    data: bytes
    file_extension: str

    def __repr__(self) -> str:  # keep megabytes of PHI out of logs and tracebacks
        return f"ReportFile(file_extension={self.file_extension!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Report:
    """One report for one recipient: one HRM file.

    ``sending_facility_report_number`` is the same for every recipient of one message part and new
    for every new part; ``transaction_id`` (``MessageUniqueID``) is unique per file and kept
    identical across retries so a re-sent file is absorbed as a duplicate.
    """

    patient: ReportPatient
    author: ReportPerson
    recipient: ReportRecipient
    event_datetime: datetime  # aware: when the message was sent
    sending_facility: str  # assigned by OntarioMD, at most 4 characters
    sending_facility_report_number: str  # at most 75
    transaction_id: str  # MessageUniqueID, at most 250
    content: ReportText | ReportFile
    report_class: str = DEFAULT_CLASS
    subclass: str = DEFAULT_SUBCLASS
    result_status: str = "S"


# --- Text XML 1.0 can carry ---------------------------------------------------------------------

# Characters XML 1.0 forbids even as references (C0 controls other than tab, LF, CR; lone
# surrogates; U+FFFE/U+FFFF), plus DEL and the C1 controls, which XML allows but which are only ever
# debris from a bad copy and paste or a wrong encoding.
_UNCARRIABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# Line breaks in all their spellings. Word's manual line break is U+000B, a page break U+000C.
# (The character classes are searched first: scanning for a class is much faster than for the
# alternation, and most text has nothing to change.)
_ODD_LINE_BREAK = re.compile("[\r\x0b\x0c\x85\u2028\u2029]")
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_ANY_LINE_BREAK_OR_TAB = re.compile("[\r\n\t\x0b\x0c\x85\u2028\u2029]")
_LINE_BREAK_OR_TAB = re.compile("\r\n|[\r\n\t\x0b\x0c\x85\u2028\u2029]")


class CleanedText(NamedTuple):
    text: str
    removed: int  # characters dropped because XML 1.0 cannot carry them


def xml_text_clean(text: str, *, multiline: bool = False) -> CleanedText:
    """Return ``text`` as it travels in the file, and how many characters had to be dropped.

    Characters XML 1.0 cannot carry are **removed** (a replacement character would end up in the
    chart). Every line break (CRLF, CR, vertical tab, form feed, NEL, U+2028/9) becomes LF in
    multi-line text and a space in single-line fields (names, IDs), which are also trimmed. The
    result is in Unicode NFC so a decomposed "Hélène" still matches the chart's spelling. Markup
    such as ``<b>`` or ``&`` is left as literal text; the serialiser escapes it.
    """
    if text.isascii() and text.isprintable():  # most names and IDs: nothing to clean
        return CleanedText(text if multiline else text.strip(), 0)
    kept, removed = _UNCARRIABLE.subn("", text)
    if multiline:
        if _ODD_LINE_BREAK.search(kept):
            kept = _LINE_BREAK.sub("\n", kept)
    else:
        if _ANY_LINE_BREAK_OR_TAB.search(kept):
            kept = _LINE_BREAK_OR_TAB.sub(" ", kept)
        kept = kept.strip()
    return CleanedText(unicodedata.normalize("NFC", kept), removed)


def _line(text: str) -> str:
    return xml_text_clean(text).text


# OSCAR and Open-O print TextContent into their page without escaping it (HRM-FORMAT.md section 9):
# text that starts a tag (``<b``, ``</``, ``<!``, ``<?``) or a character reference (``&amp;``,
# ``&#60;``, ``&copy``) would act as markup there. An invisible WORD JOINER after the ``<`` or ``&``
# makes each one plain text for an HTML parser, so every EMR shows the characters as typed.
_MARKUP_GUARD = "\u2060"
# Names with their ";" (``&Tab;``), and the legacy ones browsers also read without it (``&amp``).
_ENTITY_NAMES = sorted(html.entities.html5, key=len, reverse=True)
_MARKUP_START = re.compile(
    r"<(?=[A-Za-z/!?])|&(?=#[0-9]|#[xX][0-9A-Fa-f]|(?:"
    + "|".join(re.escape(name) for name in _ENTITY_NAMES)
    + r"))"
)
# Markup a receiver would act on, as the validator looks for it (a guarded one does not match).
MARKUP_PATTERN = _MARKUP_START


class PreparedText(NamedTuple):
    text: str
    changes: tuple[str, ...]  # what was changed, in plain words for the author


def emr_text_prepare(text: str) -> PreparedText:
    """Typed text as every EMR should show it: ``xml_text_clean``ed, trimmed, and with markup-like
    sequences guarded so OSCAR shows them as typed. ``changes`` tells the author what changed;
    preparing prepared text changes nothing."""
    cleaned = xml_text_clean(text, multiline=True)
    guarded, marked = _MARKUP_START.subn(lambda start: start[0] + _MARKUP_GUARD, cleaned.text)
    changes = []
    if cleaned.removed:
        changes.append(
            f"{cleaned.removed} invisible control character(s) that cannot be sent to EMRs "
            "were removed."
        )
    if marked:
        changes.append(
            f"{marked} place(s) where a < or & would have started formatting in an EMR got an "
            "invisible mark, so every EMR shows the text exactly as typed."
        )
    return PreparedText(guarded.strip(), tuple(changes))


def author_name_hrm(first_name: str, last_name: str) -> str:
    """The author as HRM writes it, an HL7 caret name in ``AuthorPhysician/LastName``:
    ``ID^LAST^FIRST^MIDDLE^SUFFIX^PREFIX^DEGREE`` with only the names filled, ``^Lee^Ann^^^^``.
    Open-O and Juno show an author only in that 7-part shape; a ``^`` inside a name would shift
    the parts, so it becomes a space."""
    first, last = (_line(name).replace("^", " ").strip() for name in (first_name, last_name))
    return f"^{last}^{first}^^^^"


def file_extension_normalise(value: str) -> str:
    """``"PDF"``, ``".Pdf"``, ``"letter.pdf"`` -> ``".pdf"``; ``.jpg`` -> ``.jpeg``, ``.tif`` ->
    ``.tiff``, the spellings of OntarioMD's data dictionary (``BINARY_FILE_EXTENSIONS``)."""
    text = _line(value).lower()
    extension = "." + text.rsplit(".", 1)[-1]
    return _EXTENSION_ALIASES.get(extension, extension)


def province_code(province: str) -> str:
    """``"ON"`` -> ``"CA-ON"``; full codes (``"CA-QC"``, ``"US-NY"``, ``"-50"``) pass through."""
    text = _line(province).upper()
    return f"CA-{text}" if re.fullmatch(r"[A-Z]{2}", text) else text


def event_datetime_text(moment: datetime) -> str:
    """An aware datetime as HRM writes it: Ontario local time, to the second, no offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("The report's event time must be timezone-aware (when it was sent).")
    local = moment.astimezone(REPORT_TIME_ZONE)
    return local.replace(tzinfo=None, microsecond=0).isoformat()


# --- Building -----------------------------------------------------------------------------------


def _cds(name: str) -> str:
    return f"{{{CDS}}}{name}"


def _dt(name: str) -> str:
    return f"{{{CDS_DT}}}{name}"


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
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
        _add(body, _dt("Media"), base64.b64encode(content.data).decode("ascii"))
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


def report_build(report: Report) -> bytes:
    """The HRM file for ``report``: UTF-8, XML declaration, one line, nothing between elements.

    Builds whatever it is given (after ``xml_text_clean``); ``report_validate`` says what is wrong.
    Raises ``ValueError`` only for a naive event time and ``TypeError`` for unknown content.
    """
    root = etree.Element(_cds("OmdCds"), nsmap=_NSMAP)
    record = etree.SubElement(root, _cds("PatientRecord"))
    _build_demographics(record, report.patient)
    _build_reports_received(record, report)
    _build_transaction_information(record, report)
    # tostring writes no declaration for UTF-8, and a newline after one when asked for it; HRM's
    # files are a single line, so the declaration is written here.
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


# --- Reading safely -----------------------------------------------------------------------------


class ReportInvalid(ValueError):
    """The file is not one the EMRs would file correctly; ``problems`` says why, in plain words."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# Big enough for the product's largest attachment (10 MB, 13.4 MB once base64-encoded) with room
# to spare; anything larger is refused before it is parsed.
MAX_FILE_BYTES = 32 * 1024 * 1024


def _safe_parser() -> etree.XMLParser:
    # Whatever the bytes hold: no network, no DTD, no entity expansion. ``huge_tree`` lifts
    # libxml2's 10 MB limit on one text node, which a base64-encoded attachment of 7.5 MB already
    # reaches; MAX_FILE_BYTES bounds the input instead.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


_parsers = threading.local()  # a parser is reusable but must not be shared between threads


def _thread_parser() -> etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = _safe_parser()
    return parser


def _parse(xml_bytes: bytes) -> etree._ElementTree:
    if not isinstance(xml_bytes, bytes):
        raise TypeError("An HRM file is bytes (UTF-8 XML), not text.")
    if len(xml_bytes) > MAX_FILE_BYTES:
        raise ReportInvalid(
            [f"the file is {len(xml_bytes):,} bytes; at most {MAX_FILE_BYTES:,} are accepted"]
        )
    try:
        root = etree.fromstring(xml_bytes, _thread_parser())
    except etree.XMLSyntaxError as exc:
        raise ReportInvalid(
            [f"the file is not well-formed XML, so no EMR can read it ({exc})"]
        ) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise ReportInvalid(["the file must not contain a DOCTYPE declaration"])
    return tree


def _local(tag: str) -> str:
    return tag[tag.index("}") + 1 :] if tag[:1] == "{" else tag


class _Fields:
    """The elements below one node, found by local-name path (``ReportsReceived/Class``) in one
    pass over the tree. Like OSCAR and Juno, only the first of repeated elements is looked into;
    ``count`` tells how many there were."""

    def __init__(self, node: etree._Element | None):
        self._by_path: dict[str, list[etree._Element]] = {}
        if node is not None:
            self._index(node, "")

    def _index(self, node: etree._Element, prefix: str) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            path = prefix + _local(child.tag)
            same = self._by_path.get(path)
            if same is None:
                self._by_path[path] = [child]
                if len(child):
                    self._index(child, path + "/")
            else:
                same.append(child)

    def get(self, path: str) -> etree._Element | None:
        found = self._by_path.get(path)
        return found[0] if found else None

    def count(self, path: str) -> int:
        return len(self._by_path.get(path, ()))

    def has(self, path: str) -> bool:
        return path in self._by_path

    def text(self, path: str) -> str:
        found = self.get(path)
        return "" if found is None or found.text is None else found.text

    def date(self, path: str) -> str:
        """The value of a date-full-or-partial element, whichever of its four forms it uses."""
        found = self.get(path)
        if found is None:
            return ""
        for child in found:
            if isinstance(child.tag, str):
                return child.text or ""
        return ""


# --- Validating ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _schema_load(resolved_path: str) -> tuple[etree.XMLSchema, threading.Lock]:
    # Parsed from its path so the relative xs:import of report_manager_dt.xsd resolves. A schema
    # object keeps one error log, so validations through it are serialised by the lock.
    document = etree.parse(resolved_path, _safe_parser())
    return etree.XMLSchema(document), threading.Lock()


_schemas_by_setting: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}


def _schema_for(schema_path: str | Path) -> tuple[etree.XMLSchema, threading.Lock]:
    setting = str(schema_path)
    found = _schemas_by_setting.get(setting)  # skip resolving the path on every report
    if found is None:
        path = Path(schema_path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"HRM schema not found at {path}")
        found = _schemas_by_setting[setting] = _schema_load(str(path))
    return found


def schema_load(schema_path: str | Path) -> etree.XMLSchema:
    """The parsed v1.1.2 schema, cached per path (raises ``OSError`` if the file is missing)."""
    return _schema_for(schema_path)[0]


@dataclass
class _Problem:
    key: str  # where: local element names below PatientRecord, e.g. "Demographics/Gender"
    words: str
    details: list[str] = field(default_factory=list)

    def render(self) -> str:
        if not self.details:
            return self.words
        return f"{self.words} [schema: {'; '.join(self.details)}]"


# Plain-words names of the fields, keyed by the end of their element path.
_LABELS = {
    "OmdCds": "the file",
    "PatientRecord": "the patient record",
    "Demographics": "the patient's demographics",
    "Names": "the patient's name",
    "LegalName": "the patient's legal name",
    "LegalName/FirstName": "the patient's legal first name",
    "LegalName/FirstName/Part": "the patient's legal first name",
    "LegalName/LastName": "the patient's legal last name",
    "LegalName/LastName/Part": "the patient's legal last name",
    "PartType": "the name part type",
    "DateOfBirth": "the patient's date of birth",
    "HealthCard": "the patient's health card",
    "HealthCard/Number": "the patient's health card number",
    "HealthCard/Version": "the patient's health card version code",
    "HealthCard/ProvinceCode": "the health card's province",
    "Gender": "the patient's sex",
    "UniqueVendorIdSequence": "the vendor ID sequence",
    "PersonStatusCode": "the patient's status code",
    "ReportsReceived": "the report",
    "ReportsReceived/Media": "the delivery medium (ReportsReceived/Media)",
    "Format": "the report format (Text or Binary)",
    "FileExtensionAndVersion": "the report's file extension",
    "Content": "the report content",
    "Content/TextContent": "the message text",
    "Content/Media": "the attached file",
    "Class": "the report class",
    "SubClass": "the report subclass",
    "EventDateTime": "the report's date and time",
    "AuthorPhysician": "the author's name",
    "AuthorPhysician/FirstName": "the author's first name",
    "AuthorPhysician/LastName": "the author's last name",
    "SendingFacility": "the sending facility ID",
    "SendingFacilityReportNumber": "the sending facility report number",
    "OBRContent": "the observation details (OBRContent)",
    "ObservationDateTime": "the observation date",
    "ResultStatus": "the result status",
    "TransactionInformation": "the transaction information",
    "MessageUniqueID": "the Transaction ID (MessageUniqueID)",
    "DeliverToUserID": "the recipient's Professional ID",
    "Provider": "the recipient's name",
    "Provider/FirstName": "the recipient's first name",
    "Provider/LastName": "the recipient's last name",
}
_TYPE_WORDS = {
    "date": "a valid date (YYYY-MM-DD)",
    "dateTime": "a valid date and time (YYYY-MM-DDThh:mm:ss)",
    "gYear": "a valid year",
    "gYearMonth": "a valid year and month",
    "base64Binary": "valid base64 data",
}
# Values of these fields are patient information: kept out of messages that support may log.
_PATIENT_KEYS = ("Demographics",)


_DATE_FORMS = ("FullDate", "DateTime", "YearOnly", "YearMonth")


def _label(key: str) -> str:
    parts = key.split("/")
    if len(parts) > 1 and parts[-1] in _DATE_FORMS:
        parts = parts[:-1]  # "the patient's date of birth", whichever form it is written in
    for start in range(len(parts)):
        label = _LABELS.get("/".join(parts[start:]))
        if label:
            return label
    return f"the {parts[-1]} element"


def _key(element: etree._Element) -> str:
    names = [etree.QName(node).localname for node in (element, *element.iterancestors())]
    names.reverse()
    if names[:2] == ["OmdCds", "PatientRecord"] and len(names) > 2:
        names = names[2:]
    return "/".join(names)


def _withhold(detail: str) -> str:
    detail = re.sub(r"The value '.*' is not", "The value (withheld) is not", detail)
    return re.sub(
        r"^(Element '[^']*': )'.*' is not a valid", r"\1(withheld) is not a valid", detail
    )


_EXPECTED = re.compile(r"\{[^}]*\}(\w+)")


def _schema_problem(tree: etree._ElementTree, entry: etree._LogEntry) -> _Problem:
    message = entry.message
    element = None
    if entry.path:
        prefixes = {p: uri for p, uri in tree.getroot().nsmap.items() if p}
        try:
            found = tree.xpath(entry.path, namespaces=prefixes)
            element = found[0] if found else None
        except etree.XPathError:
            element = None
    if element is not None:
        key = _key(element)
    else:
        named = re.match(r"Element '(?:\{[^}]*\})?(\w+)'", message)
        key = named[1] if named else "OmdCds"
    label = _label(key)
    patient = key.startswith(_PATIENT_KEYS)
    detail = _withhold(message) if patient else message
    detail = f"{detail} (line {entry.line})"
    body = message.split("': ", 1)[-1]

    expected = _EXPECTED.findall(body.split("Expected is", 1)[1]) if "Expected is" in body else []
    if "Missing child element" in body and expected:
        child_key = f"{key}/{expected[0]}" if element is not None else expected[0]
        return _Problem(child_key, f"{_label(child_key)} is missing", [detail])
    if "This element is not expected" in body:
        if expected and element is not None:
            parent = element.getparent()
            parent_key = _key(parent) if parent is not None else ""
            missing = f"{parent_key}/{expected[0]}".lstrip("/")
            return _Problem(
                missing,
                f"{_label(missing)} is missing or out of order (found {label} in its place)",
                [detail],
            )
        return _Problem(key, f"{label} is not allowed at this place in an HRM file", [detail])
    if match := re.search(
        r"length of '(\d+)'; this exceeds the allowed maximum length of '(\d+)'", body
    ):
        return _Problem(
            key,
            f"{label} is too long: it has {match[1]} characters, at most {match[2]} are allowed",
            [detail],
        )
    if "[facet 'minLength']" in body:
        return _Problem(key, f"{label} is empty", [detail])
    if match := re.search(r"The value '(.*)' is not an element of the set \{(.*)\}", body):
        allowed = [item.strip(" '") for item in match[2].split(",")]
        shown = "" if patient else f", not '{match[1]}'"
        if len(allowed) <= 8:
            return _Problem(key, f"{label} must be one of {', '.join(allowed)}{shown}", [detail])
        return _Problem(key, f"{label} is not an allowed value{shown}", [detail])
    if match := re.search(r"is not a valid value of the atomic type 'xs:(\w+)'", body):
        words = _TYPE_WORDS.get(match[1], f"a valid {match[1]}")
        return _Problem(key, f"{label} is not {words}", [detail])
    if match := re.search(r"does not match the fixed value constraint '([^']*)'", body):
        return _Problem(key, f"{label} must be '{match[1]}'", [detail])
    return _Problem(key, f"{label} does not meet the HRM schema", [detail])


_DECLARATION = re.compile(
    rb"""<\?xml version=["']1\.0["'] encoding=["']utf-8["']"""
    rb"""(?: standalone=["'](?:yes|no)["'])?\?>""",
    re.IGNORECASE,
)


def _serialisation_problems(xml_bytes: bytes, tree: etree._ElementTree) -> list[_Problem]:
    """Row 2 and 3 of the conformance table: default namespace, one compact UTF-8 line."""
    problems = []
    declaration = _DECLARATION.match(xml_bytes)
    if not declaration:
        problems.append(
            _Problem("OmdCds", 'the file must begin with <?xml version="1.0" encoding="UTF-8"?>')
        )
    elif not xml_bytes[declaration.end() :].startswith(b"<"):
        problems.append(
            _Problem(
                "OmdCds",
                "the file must be one line: nothing between the declaration and the root element",
            )
        )
    root = tree.getroot()
    if root.tag != _cds("OmdCds") or root.prefix is not None:
        problems.append(
            _Problem("OmdCds", "the root element must be OmdCds in the default namespace 'cds'")
        )
    loose = False
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        if tag.startswith("{cds}") and (element.prefix is not None or element.attrib):
            problems.append(
                _Problem(
                    _key(element),
                    f"{_label(_key(element))} must be written as a plain "
                    f"<{etree.QName(element).localname}> tag with no prefix and no attributes "
                    "(OSCAR's duplicate checks look for exactly that)",
                )
            )
        if tag.startswith("{cds_dt}") and element.prefix is None:
            problems.append(
                _Problem(_key(element), f"{_label(_key(element))} must use a cds_dt prefix")
            )
        if len(element) and element.text:
            loose = True  # whitespace between elements (other text is a schema error)
        if element.tail and element is not root:
            loose = True
    if loose:
        problems.append(
            _Problem(
                "OmdCds",
                "the file must be written compactly on one line with nothing between elements "
                "(OSCAR's duplicate checks do not work on indented files)",
            )
        )
    return problems


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
    if has_text and MARKUP_PATTERN.search(text("Content/TextContent")):
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


def _merge(rules: list[_Problem], schema: list[_Problem]) -> list[str]:
    """One message per field: a rule's words win, the schema's raw detail is appended to them."""
    by_key = {problem.key: problem for problem in rules}
    merged = list(rules)
    for problem in schema:
        same = by_key.get(problem.key)
        if same is not None:
            same.details.extend(problem.details)
        else:
            by_key[problem.key] = problem
            merged.append(problem)
    return [problem.render() for problem in merged]


def report_validate(xml_bytes: bytes, schema_path: str | Path) -> None:
    """Raise ``ReportInvalid`` unless the file passes the v1.1.2 schema and the receivers' rules.

    ``problems`` are plain words a clinician or support person can act on; where the schema
    complained, its raw message (patient values withheld) is appended in brackets.
    """
    schema, lock = _schema_for(schema_path)
    tree = _parse(xml_bytes)
    with lock:
        valid = schema.validate(tree)
        entries = [] if valid else list(schema.error_log)
    schema_problems = [_schema_problem(tree, entry) for entry in entries]
    rule_problems = _serialisation_problems(xml_bytes, tree) + _rule_problems(tree)
    problems = _merge(rule_problems, schema_problems)
    if problems:
        raise ReportInvalid(problems)
