"""Reading an HRM file as the EMRs do, with the sandbox's own code (nothing of our sender's
builder or validator): the schema check every EMR runs while unmarshalling, and the values of the
first ``ReportsReceived`` and first ``TransactionInformation`` (OSCAR and Juno read only those).

An element the file leaves out is ``None``; one present but empty is ``""``. The EMRs tell the two
apart (Open-O refuses a required element that is present but empty; OSCAR treats an absent
``ResultStatus`` as matching any), so the sandbox does too.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from lxml import etree

CDS = "{cds}"
CDS_DT = "{cds_dt}"
XSD = "{http://www.w3.org/2001/XMLSchema}"
# Larger than any file our product builds (10 MB attachment, base64-encoded), so nothing real is
# refused; anything larger is not parsed at all.
MAX_FILE_BYTES = 32 * 1024 * 1024
_NAMESPACE = re.compile(r"\{[^}]*\}")
_SCHEMA_ERRORS_SHOWN = 5
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": True,
}


class FileUnreadable(Exception):
    """The file is not one an EMR can file; ``words`` says why, for the retrieval log."""

    def __init__(self, words: str, message_unique_id: str = ""):
        super().__init__(words)
        self.words = words
        self.message_unique_id = message_unique_id


# --- The schema ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _schema_load(resolved_path: str) -> tuple[etree.XMLSchema, threading.Lock]:
    # The sandbox's own schema object: one shared with the sender's validator would share its
    # error log. Parsed from its path so the relative xs:import of the data types resolves.
    document = etree.parse(resolved_path, etree.XMLParser(**_PARSER_OPTIONS))
    return etree.XMLSchema(document), threading.Lock()


def schema_path() -> Path:
    path = Path(settings.HRM_SCHEMA).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"HRM schema not found at {path} (setting HRM_SCHEMA)")
    return path


def schema() -> tuple[etree.XMLSchema, threading.Lock]:
    return _schema_load(str(schema_path()))


def schema_errors(tree: etree._ElementTree) -> list[str]:
    checker, lock = schema()
    with lock:
        if checker.validate(tree):
            return []
        entries = list(checker.error_log)
    # "{cds}Gender" reads better as "Gender".
    return [f"line {entry.line}: {_NAMESPACE.sub('', entry.message)}" for entry in entries]


@functools.lru_cache(maxsize=4)
def _required_children_load(resolved_path: str) -> dict[str, frozenset[str]]:
    """For every element name the schema declares, the names of its children that have no
    ``minOccurs="0"`` (in a sequence, all or choice), merged by element name across both schema
    files, the way Open-O's ``HRMXmlValidator`` derives its list (HRM-FORMAT.md 11.5)."""
    main = etree.parse(resolved_path, etree.XMLParser(**_PARSER_OPTIONS))
    documents = [main]
    for imported in main.getroot().iter(f"{XSD}import", f"{XSD}include"):
        location = imported.get("schemaLocation")
        if location:
            documents.append(
                etree.parse(
                    str(Path(resolved_path).parent / location), etree.XMLParser(**_PARSER_OPTIONS)
                )
            )

    def required_in(group: etree._Element) -> set[str]:
        names = set()
        for child in group:
            if child.tag in (f"{XSD}sequence", f"{XSD}all", f"{XSD}choice"):
                names |= required_in(child)
            elif (
                child.tag == f"{XSD}element" and child.get("minOccurs") != "0" and child.get("name")
            ):
                names.add(child.get("name"))
        return names

    by_type: dict[str, set[str]] = {}
    for document in documents:
        for complex_type in document.getroot().iter(f"{XSD}complexType"):
            if complex_type.get("name"):
                names = required_in(complex_type)
                if names:
                    by_type.setdefault(complex_type.get("name"), set()).update(names)
    by_element: dict[str, set[str]] = {}
    for document in documents:
        for element in document.getroot().iter(f"{XSD}element"):
            name = element.get("name")
            if not name:
                continue
            names = set(by_type.get((element.get("type") or "").rpartition(":")[2], ()))
            inline = element.find(f"{XSD}complexType")
            if inline is not None:
                names |= required_in(inline)
            if names:
                by_element.setdefault(name, set()).update(names)
    return {name: frozenset(children) for name, children in by_element.items()}


def required_children() -> dict[str, frozenset[str]]:
    return _required_children_load(str(schema_path()))


# Java's String.trim(): every character up to U+0020.
_JAVA_TRIM = "".join(chr(code) for code in range(0x21))


def empty_required_elements(tree: etree._ElementTree) -> list[tuple[str, str]]:
    """``(parent, element)`` for every element with neither child elements nor text (once
    trimmed) that the schema requires in its parent (Open-O ``HRMXmlValidator``)."""
    required = required_children()
    found = []
    for element in tree.getroot().iter():
        if not isinstance(element.tag, str):
            continue
        parent = element.getparent()
        if parent is None:
            continue
        has_children = any(isinstance(child.tag, str) for child in element)
        text = "".join(element.itertext()) if not has_children else "x"
        if not has_children and not text.strip(_JAVA_TRIM):
            parent_name = etree.QName(parent).localname
            name = etree.QName(element).localname
            if name in required.get(parent_name, ()):
                found.append((parent_name, name))
    return found


# --- The values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HrmFile:
    """What an EMR reads from one file: the first report and the first transaction."""

    tree: etree._ElementTree = field(repr=False)
    text: str = field(repr=False)  # the file as one string, as OSCAR hashes it
    patient_first_name: str
    patient_last_name: str
    date_of_birth: str  # the value of whichever form DateOfBirth uses
    sex: str
    health_card_number: str | None
    health_card_version: str
    health_card_province: str
    author_first_name: str | None
    author_last_name: str | None
    deliver_to_user_id: str
    provider_first_name: str
    provider_last_name: str
    report_class: str | None
    subclass: str
    event_datetime: str
    observation_datetime: str  # first OBRContent/ObservationDateTime
    sending_facility: str
    sending_facility_report_number: str
    message_unique_id: str
    result_status: str | None
    format: str | None
    file_extension: str
    report_text: str | None  # Content/TextContent
    file_data: bytes | None = field(default=None, repr=False)  # Content/Media, decoded


def _first(node: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if node is None:
            return None
        node = node.find(name)
    return node


def _text(node: etree._Element | None, *path: str) -> str | None:
    found = _first(node, *path)
    return None if found is None else (found.text or "")


def _date(node: etree._Element | None, *path: str) -> str:
    """A dateFullOrPartial's value, whichever of its forms is used."""
    found = _first(node, *path)
    if found is None:
        return ""
    for child in found:
        if isinstance(child.tag, str):
            return (child.text or "").strip()
    return ""


def hrm_file_read(xml_bytes: bytes) -> HrmFile:
    """Parse, validate against the schema and read one decrypted file, or raise
    ``FileUnreadable`` in plain words."""
    if len(xml_bytes) > MAX_FILE_BYTES:
        raise FileUnreadable(
            f"The file is {len(xml_bytes):,} bytes; the sandbox reads at most {MAX_FILE_BYTES:,}."
        )
    try:
        root = etree.fromstring(xml_bytes, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise FileUnreadable(
            f"The file cannot be read: it is not well-formed XML, so no EMR can read it ({exc})."
        ) from None
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise FileUnreadable("The file cannot be read: it carries a DOCTYPE declaration.")
    if root.tag != f"{CDS}OmdCds":
        raise FileUnreadable("The file is not an HRM report (its root is not OmdCds in 'cds').")
    record = root.find(f"{CDS}PatientRecord")
    transaction = _first(record, f"{CDS}TransactionInformation")
    message_unique_id = (_text(transaction, f"{CDS}MessageUniqueID") or "").strip()
    errors = schema_errors(tree)
    if errors:
        shown = "; ".join(errors[:_SCHEMA_ERRORS_SHOWN])
        more = len(errors) - _SCHEMA_ERRORS_SHOWN
        raise FileUnreadable(
            "The file does not follow the HRM schema v1.1.2, so an EMR cannot file it: "
            f"{shown}{f' (and {more} more)' if more > 0 else ''}.",
            message_unique_id,
        )
    demographics = _first(record, f"{CDS}Demographics")
    legal = _first(demographics, f"{CDS}Names", f"{CDS_DT}LegalName")
    card = _first(demographics, f"{CDS}HealthCard")
    report = _first(record, f"{CDS}ReportsReceived")
    author = _first(report, f"{CDS}AuthorPhysician")
    media = _text(report, f"{CDS}Content", f"{CDS_DT}Media")
    try:
        # The schema has already checked it is base64.
        file_data = None if media is None else base64.b64decode("".join(media.split()))
    except binascii.Error:
        raise FileUnreadable(
            "The attached file is not valid base64 data.", message_unique_id
        ) from None
    return HrmFile(
        tree=tree,
        text=xml_bytes.decode("utf-8", errors="replace"),
        patient_first_name=_text(legal, f"{CDS_DT}FirstName", f"{CDS_DT}Part") or "",
        patient_last_name=_text(legal, f"{CDS_DT}LastName", f"{CDS_DT}Part") or "",
        date_of_birth=_date(demographics, f"{CDS}DateOfBirth"),
        sex=_text(demographics, f"{CDS}Gender") or "",
        health_card_number=_text(card, f"{CDS_DT}Number"),
        health_card_version=_text(card, f"{CDS_DT}Version") or "",
        health_card_province=_text(card, f"{CDS_DT}ProvinceCode") or "",
        author_first_name=_text(author, f"{CDS_DT}FirstName"),
        author_last_name=_text(author, f"{CDS_DT}LastName"),
        deliver_to_user_id=_text(transaction, f"{CDS}DeliverToUserID") or "",
        provider_first_name=_text(transaction, f"{CDS}Provider", f"{CDS_DT}FirstName") or "",
        provider_last_name=_text(transaction, f"{CDS}Provider", f"{CDS_DT}LastName") or "",
        report_class=_text(report, f"{CDS}Class"),
        subclass=_text(report, f"{CDS}SubClass") or "",
        event_datetime=_date(report, f"{CDS}EventDateTime"),
        observation_datetime=_date(report, f"{CDS}OBRContent", f"{CDS}ObservationDateTime"),
        sending_facility=_text(report, f"{CDS}SendingFacility") or "",
        sending_facility_report_number=_text(report, f"{CDS}SendingFacilityReportNumber") or "",
        message_unique_id=message_unique_id,
        result_status=_text(report, f"{CDS}ResultStatus"),
        format=_text(report, f"{CDS}Format"),
        file_extension=_text(report, f"{CDS}FileExtensionAndVersion") or "",
        report_text=_text(report, f"{CDS}Content", f"{CDS_DT}TextContent"),
        file_data=file_data,
    )
