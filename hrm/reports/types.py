"""What an HRM report is: its value types and the vocabulary of the format (classes,
extensions, namespaces). See docs/HRM-FORMAT.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

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


# Clark names ({namespace}local) for lxml.
def _cds(name: str) -> str:
    return f"{{{CDS}}}{name}"


def _dt(name: str) -> str:
    return f"{{{CDS_DT}}}{name}"
