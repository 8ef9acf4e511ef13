"""The sandbox EMR's tests: reports built by the product's own builder, and an EMR with charts."""

import dataclasses
import datetime
import itertools
from types import SimpleNamespace

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
from hrm.sandbox.models import EmrPatient, EmrProvider
from referrals.sample_files import consultation_letter_pdf

_ids = itertools.count(1)
PDF = consultation_letter_pdf(["Consultation letter", "Impression: stable angina"])
PATIENT = ReportPatient(
    first_name="Hélène",
    last_name="Tremblay",
    date_of_birth=datetime.date(1961, 4, 18),
    sex="F",
    health_card_number="9876543217",
    health_card_version="AB",
    health_card_province="ON",
)


def report_for(*, recipient="D12345", pdf=False, **changes) -> Report:
    """A report to ``recipient`` about the patient of the EMR's chart, with a fresh
    MessageUniqueID; ``patient=`` may be a dict of changes to that patient."""
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


def xml_for(**changes) -> bytes:
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
