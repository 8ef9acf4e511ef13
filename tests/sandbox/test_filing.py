"""The sandbox EMR files reports the way OSCAR and Open-O do (HRM-FORMAT.md sections 8 and 11):
routing by DeliverToUserID, linking the patient only on a four-field match, counting a repeated
MessageUniqueID, refusing what an EMR cannot file. Files are written by hand (``hrm_xml``), so
these rules are tested whatever our sender writes; the rules that differ between EMRs are in
test_profiles.py."""

import datetime

import pytest
from lxml import etree

from hrm.crypto import report_encrypt
from hrm.transports import FolderTransport
from sandbox.models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.filing import sandbox_file_report
from sandbox.services.polling import sandbox_poll

from ..delivery_fixtures import AES_KEY
from ..factories import make_referral
from .conftest import PDF, hrm_xml

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

Outcome = EmrRetrievalLog.Outcome


def file(xml: bytes, name: str = "report.xml.enc") -> EmrRetrievalLog:
    return sandbox_file_report(xml, name)


def edited(xml: bytes, change) -> bytes:
    root = etree.fromstring(xml)
    change(root)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


def drop(path: str):
    def change(root):
        element = root.find(path, {"cds": "cds", "cdsd": "cds_dt"})
        element.getparent().remove(element)

    return change


# --- Routing ------------------------------------------------------------------------------------


def test_a_text_report_is_filed_to_its_provider_and_linked_to_the_chart(emr):
    xml = hrm_xml(deliver_to="D12345", message_unique_id="T-1-D12345")
    logged = file(xml, "first.xml.enc")
    assert logged.outcome == Outcome.FILED and logged.error == ""
    assert logged.emr_profile == "open-o"  # the default profile
    document = logged.document
    assert document.emr_profile == "open-o"
    assert document.provider == emr.nguyen
    assert document.patient == emr.chart
    assert document.message_unique_id == "T-1-D12345"
    assert document.format == EmrDocument.Format.TEXT
    assert document.text == "Seen today.\nPlan: echo."
    assert document.file_data is None
    assert document.report_class == "Consultant Report"
    assert document.subclass == "11488-4^Consult note"
    assert document.subclass_display == "Consult note"
    assert document.author_name == "Lee François"  # Open-O's reading of ^Lee^François^^^^
    assert document.event_datetime == "2026-03-02T10:04:05"
    assert document.sending_facility == "EREF"
    assert not document.is_hidden and document.text_markup == ""
    assert document.remote_name == "first.xml.enc"
    assert bytes(document.raw_xml) == xml
    assert (document.unmatched_provider_id, document.duplicate_count) == ("", 0)


def test_an_n_prefix_routes_to_the_nurse_with_that_cno_number(emr):
    document = file(hrm_xml(deliver_to="N1234567")).document
    assert document.provider == emr.okafor


@pytest.mark.parametrize(
    ("deliver_to", "why"),
    [
        ("D55555", "no provider has that number"),
        ("d12345", "OSCAR's prefix is case-sensitive"),
        ("D012345", "the number must match exactly, leading zero included"),
        ("N12345", "D12345 is a CPSO number, not a CNO number"),
        ("X12345", "neither D nor N"),
    ],
)
def test_a_recipient_no_provider_matches_goes_to_the_unassigned_inbox(emr, deliver_to, why):
    logged = file(hrm_xml(deliver_to=deliver_to))
    assert logged.outcome == Outcome.FILED, why
    document = logged.document
    assert document.provider is None, why
    assert document.unmatched_provider_id == deliver_to
    assert document.unmatched_provider_name == "Alice Nguyen"
    assert document.deliver_to_user_id == deliver_to
    assert document.patient == emr.chart  # routing and patient matching are independent


# --- Patient matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mismatch",
    [
        {"health_card_number": "1234567897"},
        {"last_name": "Tremblay-Roy"},
        {"sex": "M"},
        {"date_of_birth": "1961-04-19"},
    ],
    ids=["health card number", "last name", "sex", "date of birth"],
)
def test_one_field_that_differs_from_the_chart_leaves_the_report_unlinked(emr, mismatch):
    document = file(hrm_xml(**mismatch)).document
    assert document.patient is None
    assert document.provider == emr.nguyen  # still routed to its provider
    assert document.patient_last_name == mismatch.get("last_name", "Tremblay")


@pytest.mark.parametrize(
    "difference",
    [
        {"last_name": "TREMBLAY"},
        {"first_name": "Helene"},
        {"health_card_version": "ZZ"},
        {"province": "CA-QC"},
    ],
    ids=["last name case", "first name", "version code", "province"],
)
def test_what_oscar_does_not_compare_does_not_stop_the_link(emr, difference):
    assert file(hrm_xml(**difference)).document.patient == emr.chart


def test_the_first_matching_chart_wins_among_charts_sharing_a_health_card(emr):
    EmrPatient.objects.create(
        first_name="Marc",
        last_name="Tremblay",
        sex="M",
        date_of_birth=datetime.date(1990, 1, 1),
        health_card_number="9876543217",
    )
    later = EmrPatient.objects.create(
        first_name="Hélène",
        last_name="tremblay",
        sex="F",
        date_of_birth=datetime.date(1961, 4, 18),
        health_card_number="9876543217",
    )
    document = file(hrm_xml()).document
    assert document.patient == emr.chart != later


# --- Duplicates ---------------------------------------------------------------------------------


def test_a_repeated_message_unique_id_is_counted_not_filed_again(emr):
    muid = "REPEAT-1-D12345"
    first = file(hrm_xml(message_unique_id=muid, report_number="R-1"), "a.xml.enc")
    # Same MessageUniqueID, different content and recipient: still a duplicate (Juno's rule).
    again = file(
        hrm_xml(message_unique_id=muid, deliver_to="N1234567", text="Changed"), "b.xml.enc"
    )
    third = file(hrm_xml(message_unique_id=muid, report_number="R-1"), "c.xml.enc")
    assert (first.outcome, again.outcome, third.outcome) == (
        Outcome.FILED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    )
    assert EmrDocument.objects.count() == 1
    document = EmrDocument.objects.get()
    assert document.duplicate_count == 2 and document.last_duplicate_at
    assert document.text == "Seen today.\nPlan: echo." and document.provider == emr.nguyen
    assert again.document == third.document == document
    assert again.message_unique_id == muid


# --- Binary reports -----------------------------------------------------------------------------


def test_a_pdf_report_keeps_its_bytes_and_downloads_like_oscar(emr):
    document = file(hrm_xml(media=PDF, extension=".pdf")).document
    assert document.format == EmrDocument.Format.BINARY
    assert bytes(document.file_data) == PDF
    assert document.text == ""
    assert document.file_extension == ".pdf"
    assert document.content_type == "application/pdf"
    assert document.download_name == "Tremblay-Hélène-Consultant_Report.pdf"


# --- Refused files ------------------------------------------------------------------------------


def test_a_file_that_breaks_the_schema_is_refused_and_logged_not_filed(emr):
    xml = hrm_xml(message_unique_id="SANDBOX-9").replace(
        b"<Gender>F</Gender>", b"<Gender>female</Gender>"
    )
    logged = file(xml, "bad.xml.enc")
    assert logged.outcome == Outcome.REFUSED and logged.document is None
    assert "does not follow the HRM schema" in logged.error
    assert "Gender" in logged.error and "{cds}" not in logged.error
    assert logged.message_unique_id.startswith("SANDBOX-")
    assert not EmrDocument.objects.exists()
    assert EmrRetrievalLog.objects.get().file_name == "bad.xml.enc"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (drop("cds:PatientRecord/cds:ReportsReceived/cds:Class"), "no report class"),
        (drop("cds:PatientRecord/cds:Demographics/cds:HealthCard"), "no patient health card"),
        (drop("cds:PatientRecord/cds:ReportsReceived/cds:EventDateTime"), "no report date"),
    ],
    ids=["class", "health card", "report date"],
)
def test_a_schema_valid_file_oscar_would_drop_is_refused(emr, change, words):
    logged = file(edited(hrm_xml(), change))
    assert logged.outcome == Outcome.REFUSED
    assert logged.error.startswith("OSCAR drops this report") and words in logged.error
    assert not EmrDocument.objects.exists()


def test_a_bare_licence_prefix_is_refused(emr):
    logged = file(hrm_xml(deliver_to="D"))
    assert logged.outcome == Outcome.REFUSED
    assert "DeliverToUserID 'D' has no licence number" in logged.error


def test_a_file_that_is_not_xml_is_refused(emr):
    logged = file(b"this is not XML")
    assert logged.outcome == Outcome.REFUSED
    assert "not well-formed XML" in logged.error


def test_undecryptable_and_invalid_files_are_refused_logged_and_removed(emr, sftp_server):
    drop_box = FolderTransport(sftp_server.inbox)
    drop_box.upload("garbage.xml.enc", b"not encrypted at all")
    drop_box.upload("wrong-key.xml.enc", report_encrypt(hrm_xml(), "ff" * 16))
    drop_box.upload("invalid.xml.enc", report_encrypt(b"<OmdCds xmlns='cds'/>", AES_KEY))
    drop_box.upload("good.xml.enc", report_encrypt(hrm_xml(), AES_KEY))
    (sftp_server.inbox / "uploading.xml.enc.part").write_bytes(b"half a file")

    result = sandbox_poll(sftp_server.login, AES_KEY)

    assert (result.filed, result.duplicate, result.refused) == (1, 0, 3)
    assert result.still_uploading == 1
    errors = dict(
        EmrRetrievalLog.objects.filter(outcome=Outcome.REFUSED).values_list("file_name", "error")
    )
    assert "not a whole number of AES blocks" in errors["garbage.xml.enc"]
    assert "key is wrong or the file is damaged" in errors["wrong-key.xml.enc"]
    assert "does not follow the HRM schema" in errors["invalid.xml.enc"]
    assert EmrDocument.objects.get().remote_name == "good.xml.enc"
    # Every final file was consumed and deleted; the upload still in progress was left alone.
    assert sorted(p.name for p in sftp_server.inbox.iterdir()) == ["uploading.xml.enc.part"]


def test_a_wrong_key_setting_touches_no_file(emr, sftp_server):
    FolderTransport(sftp_server.inbox).upload("good.xml.enc", report_encrypt(hrm_xml(), AES_KEY))
    with pytest.raises(ValueError, match="32 hex digits"):
        sandbox_poll(sftp_server.login, "not-a-key")
    assert [p.name for p in sftp_server.inbox.iterdir()] == ["good.xml.enc"]
    assert not EmrRetrievalLog.objects.exists()


# --- Charts -------------------------------------------------------------------------------------


def test_charts_are_copied_from_the_directory_and_referrals_idempotently(world, referral):
    world.cardiology.clinician_first_name = "Frank"  # the listing's name is what HRM carries
    world.cardiology.clinician_surname = "Lee"
    world.cardiology.clinician_professional_id = "D67890"
    world.cardiology.save()
    make_referral(world.referrer, world.practice_listing, world.cardiology)  # same patient

    first = sandbox_charts_sync()
    again = sandbox_charts_sync()

    assert first.providers_created == 4 and first.patients_created == 1
    assert (again.providers_created, again.providers_updated, again.patients_created) == (0, 0, 0)
    providers = dict(
        EmrProvider.objects.values_list("professional_id", "first_name").order_by("pk")
    )
    assert providers == {"D12345": "Alice", "D67890": "Frank", "D99999": "Sam", "N1234567": "Grace"}
    chart = EmrPatient.objects.get()
    assert (chart.last_name, chart.first_name, chart.sex) == ("Tremblay", "Hélène", "F")
    assert chart.date_of_birth == datetime.date(1961, 4, 18)
    assert chart.health_card_number == "9876543217"
    assert (chart.health_card_version, chart.province) == ("AB", "ON")

    world.referrer.first_name = "Alicia"
    world.referrer.save()
    assert sandbox_charts_sync().providers_updated == 1
    assert EmrProvider.objects.get(professional_id="D12345").first_name == "Alicia"


def test_a_chart_is_copied_once_per_health_card_and_never_again(world, referral):
    sandbox_charts_sync()
    EmrPatient.objects.update(sex="M")  # EMR staff edit the chart
    # Another referral for the same card with another spelling, and one for a new patient.
    make_referral(
        world.referrer, world.practice_listing, world.cardiology, patient_last_name="Tremblai"
    )
    make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Wei",
        patient_last_name="Chen",
        patient_health_card_number="1234567897",
    )

    assert sandbox_charts_sync().patients_created == 1

    charts = dict(EmrPatient.objects.values_list("health_card_number", "last_name"))
    assert charts == {"9876543217": "Tremblay", "1234567897": "Chen"}
    assert EmrPatient.objects.get(health_card_number="9876543217").sex == "M"  # still as edited
    # So a report spelling the patient as the later referral does stays unlinked.
    document = file(hrm_xml(last_name="Tremblai", sex="M")).document
    assert document.patient is None
