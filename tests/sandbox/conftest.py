"""The sandbox EMR's tests: HRM files built by hand (so each EMR rule can be tested with exactly the
value it is about, whatever our sender writes today), files built by the product's own builder
(what our sender sends today), and an EMR with charts."""

import base64
import dataclasses
import datetime
import itertools
from types import SimpleNamespace
from xml.sax.saxutils import escape

import pytest

from hrm.report_xml import (
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
    report_build,
)
from referrals.sample_files import consultation_letter_pdf
from sandbox.models import EmrPatient, EmrProvider

_ids = itertools.count(1)
PDF = consultation_letter_pdf(["Consultation letter", "Impression: stable angina"])
# The smallest files each image reader recognises (their signatures and a little more).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16 + b"\xff\xd9"
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 16
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 16
TEXT_EXTENSION = "From OMD Report Manager"
PATIENT = ReportPatient(
    first_name="Hélène",
    last_name="Tremblay",
    date_of_birth=datetime.date(1961, 4, 18),
    sex="F",
    health_card_number="9876543217",
    health_card_version="AB",
    health_card_province="ON",
)


def _element(tag: str, value) -> str:
    """``<tag>value</tag>``; ``None`` leaves the element out, ``""`` writes it empty."""
    if value is None:
        return ""
    return f"<{tag}>{value if isinstance(value, Markup) else escape(str(value))}</{tag}>"


class Markup(str):
    """Already XML: written as is."""


def hrm_xml(
    *,
    first_name="Hélène",
    last_name="Tremblay",
    date_of_birth="1961-04-18",
    sex="F",
    health_card_number="9876543217",
    health_card_version="AB",
    province="CA-ON",
    report_format="Text",
    extension=TEXT_EXTENSION,
    text="Seen today.\nPlan: echo.",
    media: bytes | None = None,
    report_class="Consultant Report",
    subclass="11488-4^Consult note",
    event_datetime="2026-03-02T10:04:05",
    observation_datetime=None,
    author_first=None,
    author_last="^Lee^François^^^^",
    sending_facility="EREF",
    report_number=None,
    result_status="S",
    message_unique_id=None,
    deliver_to="D12345",
    provider=("Alice", "Nguyen"),
) -> bytes:
    """One HRM file written by hand the way HRM writes them: compact, one line, ``cds`` the
    default namespace. Defaults are a text report that every EMR files; each argument changes
    one value (``None`` leaves the element out). ``media`` makes it a binary report."""
    number = report_number or f"HAND-{next(_ids)}"
    message_unique_id = message_unique_id or f"{number}-{deliver_to}"
    if media is not None:
        content = _element("cdsd:Media", base64.b64encode(media).decode("ascii"))
        if report_format == "Text":
            report_format = "Binary"
    else:
        content = _element("cdsd:TextContent", text)
    author = ""
    if author_first is not None or author_last is not None:
        author = _element(
            "AuthorPhysician",
            Markup(
                _element("cdsd:FirstName", author_first) + _element("cdsd:LastName", author_last)
            ),
        )
    card = (
        _element("cdsd:Number", health_card_number)
        + _element("cdsd:Version", health_card_version or None)
        + _element("cdsd:ProvinceCode", province)
    )
    event = None
    if event_datetime is not None:
        event = Markup(_element("cdsd:DateTime", event_datetime))
    recipient = Markup(
        _element("cdsd:FirstName", provider[0]) + _element("cdsd:LastName", provider[1])
    )
    observation = ""
    if observation_datetime is not None:
        observation = _element(
            "OBRContent",
            Markup(
                _element(
                    "ObservationDateTime", Markup(_element("cdsd:DateTime", observation_datetime))
                )
            ),
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OmdCds xmlns="cds" xmlns:cdsd="cds_dt"><PatientRecord>'
        '<Demographics><Names><cdsd:LegalName namePurpose="L">'
        f"<cdsd:FirstName>{_element('cdsd:Part', first_name)}<cdsd:PartType>GIV</cdsd:PartType>"
        "</cdsd:FirstName>"
        f"<cdsd:LastName>{_element('cdsd:Part', last_name)}<cdsd:PartType>FAMC</cdsd:PartType>"
        "</cdsd:LastName></cdsd:LegalName></Names>"
        f"{_element('DateOfBirth', Markup(_element('cdsd:FullDate', date_of_birth)))}"
        f"{_element('HealthCard', Markup(card)) if health_card_number is not None else ''}"
        f"{_element('Gender', sex)}"
        "<UniqueVendorIdSequence>0</UniqueVendorIdSequence><PersonStatusCode>A</PersonStatusCode>"
        "</Demographics>"
        "<ReportsReceived><Media>Download</Media>"
        f"{_element('Format', report_format)}"
        f"{_element('FileExtensionAndVersion', extension)}"
        f"{_element('Content', Markup(content))}"
        f"{_element('Class', report_class)}"
        f"{_element('SubClass', subclass)}"
        f"{_element('EventDateTime', event)}"
        f"{author}"
        f"{_element('SendingFacility', sending_facility)}"
        f"{_element('SendingFacilityReportNumber', number)}"
        f"{observation}"
        f"{_element('ResultStatus', result_status)}"
        "</ReportsReceived>"
        "<TransactionInformation>"
        f"{_element('MessageUniqueID', message_unique_id)}"
        f"{_element('DeliverToUserID', deliver_to)}"
        f"{_element('Provider', recipient)}"
        "</TransactionInformation>"
        "</PatientRecord></OmdCds>"
    )
    return xml.encode("utf-8")


def report_for(*, recipient="D12345", pdf=False, **changes) -> Report:
    """A report as the product's builder describes it (what our sender sends today), to
    ``recipient``, about the patient of the EMR's chart, with a fresh MessageUniqueID;
    ``patient=`` may be a dict of changes to that patient."""
    number = f"SANDBOX-{next(_ids)}"
    patient = changes.pop("patient", {})
    fields = {
        "patient": dataclasses.replace(PATIENT, **patient),
        "author": ReportPerson("François", "Lee"),
        "recipient": ReportRecipient(recipient, "Alice", "Nguyen"),
        "event_datetime": datetime.datetime(2026, 3, 2, 15, 4, 5, tzinfo=datetime.UTC),
        "sending_facility": "EREF",
        "sending_facility_report_number": number,
        "transaction_id": f"{number}-{recipient}",
        "content": ReportFile(PDF, ".pdf") if pdf else ReportText("Seen today.\nPlan: echo."),
    }
    return Report(**{**fields, **changes})


def sender_xml(**changes) -> bytes:
    """The file the product's builder makes today for ``report_for(**changes)``."""
    return report_build(report_for(**changes))


@pytest.fixture
def emr(db):
    """The stand-in EMR with two providers and the patient's chart."""
    return SimpleNamespace(
        nguyen=EmrProvider.objects.create(
            professional_id="D12345", first_name="Alice", last_name="Nguyen"
        ),
        okafor=EmrProvider.objects.create(
            professional_id="N1234567", first_name="Grace", last_name="Okafor"
        ),
        chart=EmrPatient.objects.create(
            first_name="Hélène",
            last_name="Tremblay",
            sex="F",
            date_of_birth=datetime.date(1961, 4, 18),
            health_card_number="9876543217",
            health_card_version="AB",
            province="ON",
        ),
    )


@pytest.fixture
def sandbox_on(settings):
    settings.HRM_SANDBOX_ENABLED = True
    return settings
