"""Building and storing the HRM files of a message, and exporting them for support."""

import base64
import io
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from lxml import etree

from hrm.models import HrmReport
from hrm.reports.reading import ReportInvalid
from hrm.reports.services import (
    message_reports_create,
    report_xml_build,
    report_xml_ensure,
    reports_xml_keep,
)
from hrm.reports.validation import report_validate
from referrals import services
from referrals.models import Message
from referrals.sample_files import consultation_letter_pdf
from sandbox.reading import hrm_file_read

from ..factories import JPEG_BYTES, jpeg_upload, make_referral, pdf_upload, text_upload


@pytest.fixture
def recipients(world):
    """Two live-looking stakeholders with Clinician Information."""
    world.practice_listing.clinician_first_name = "Alice"
    world.practice_listing.clinician_surname = "Nguyen"
    world.practice_listing.clinician_professional_id = "D12345"
    world.practice_listing.save()
    world.intake_listing.clinician_first_name = "Grace"
    world.intake_listing.clinician_surname = "Okafor"
    world.intake_listing.clinician_professional_id = "N1234567"
    world.intake_listing.save()
    return [world.practice_listing, world.intake_listing]


def build_all(message, recipients):
    rows = message_reports_create(message=message, recipients=recipients)
    for row in rows:
        report_xml_ensure(row)
    return rows


@pytest.fixture
def letter_message(world, referral):
    text = "Seen today <b>&</b> booked.\nPlan: stress test.\x01 Hélène, François"
    letter = pdf_upload("Consultation letter.pdf", ["Impression: stable angina"])
    return services.message_post(
        referral=referral, author=world.specialist, text=text, files=[letter]
    )


def test_text_and_pdf_to_two_recipients_make_four_valid_files(letter_message, recipients, settings):
    rows = build_all(letter_message, recipients)
    assert len(rows) == 4 == HrmReport.objects.count()
    for row in HrmReport.objects.all():
        report_validate(bytes(row.xml), settings.HRM_SCHEMA)
    assert len({r.transaction_id for r in rows}) == 4
    # One report number per part, shared by the recipients of that part.
    numbers = {(r.attachment_id, r.report_number) for r in rows}
    assert len(numbers) == 2
    assert {r.deliver_to_user_id for r in rows} == {"D12345", "N1234567"}


def test_files_carry_the_referral_patient_author_and_recipient(
    letter_message, recipients, referral
):
    build_all(letter_message, recipients)
    text_report = HrmReport.objects.get(attachment=None, recipient=recipients[0])
    parsed = hrm_file_read(bytes(text_report.xml))
    assert parsed.patient_first_name == "Hélène" and parsed.patient_last_name == "Tremblay"
    assert parsed.date_of_birth == "1961-04-18" and parsed.sex == "F"
    assert parsed.health_card_number == "9876543217" and parsed.health_card_version == "AB"
    assert parsed.health_card_province == "CA-ON"
    # HRM's caret name, the only author Open-O and Juno show.
    assert parsed.author_last_name == "^Lee^François^^^^"
    assert parsed.deliver_to_user_id == "D12345"
    assert (parsed.provider_first_name, parsed.provider_last_name) == ("Alice", "Nguyen")
    assert parsed.report_class == "Consultant Report"
    assert parsed.subclass == "11488-4^Consult note"
    assert parsed.message_unique_id == text_report.transaction_id
    assert parsed.format == "Text"
    # The line break and accents survive, the control character XML cannot carry is gone, and
    # the markup reads as typed but cannot act as markup in OSCAR (an invisible word joiner).
    assert parsed.report_text == (
        "Seen today <\u2060b>&<\u2060/b> booked.\nPlan: stress test. Hélène, François"
    )


def test_the_pdf_travels_as_a_binary_report(letter_message, recipients):
    build_all(letter_message, recipients)
    attachment = letter_message.attachments.get()
    row = HrmReport.objects.get(attachment=attachment, recipient=recipients[1])
    parsed = hrm_file_read(bytes(row.xml))
    assert parsed.format == "Binary" and parsed.file_extension == ".pdf"
    assert parsed.report_text is None
    assert parsed.file_data == attachment.file.open("rb").read()
    assert parsed.file_data.startswith(b"%PDF")


def test_files_are_one_compact_line_with_cds_as_default_namespace(letter_message, recipients):
    build_all(letter_message, recipients)
    xml = bytes(HrmReport.objects.filter(attachment=None).first().xml)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    body = xml.split(b"?>", 1)[1]
    assert b"><" in body and b">\n<" not in body and b"> <" not in body
    root = etree.fromstring(xml)
    assert root.nsmap[None] == "cds"


def test_an_invalid_report_is_never_stored(letter_message, recipients):
    recipients[1].clinician_professional_id = "d12345"  # OSCAR routes by an upper-case prefix
    rows = message_reports_create(message=letter_message, recipients=recipients)
    for row in rows:
        if row.recipient == recipients[1]:
            with pytest.raises(ReportInvalid) as invalid:
                report_xml_ensure(row)
            assert any("Professional ID" in problem for problem in invalid.value.problems)
        else:
            report_xml_ensure(row)
    stored = {r.recipient_id: bool(bytes(r.xml)) for r in HrmReport.objects.all()}
    assert stored == {recipients[0].pk: True, recipients[1].pk: False}


def test_the_file_is_built_once_and_reused(letter_message, recipients):
    row = message_reports_create(message=letter_message, recipients=recipients[:1])[0]
    first = report_xml_ensure(row)
    letter_message.text = "Changed afterwards"
    letter_message.save()
    assert report_xml_ensure(HrmReport.objects.get(pk=row.pk)) == first


def test_when_two_workers_build_the_same_file_the_first_stored_is_the_one_sent(
    letter_message, recipients
):
    row = message_reports_create(message=letter_message, recipients=recipients[:1])[0]
    other_worker_copy = HrmReport.objects.get(pk=row.pk)  # loaded before anything was stored
    first = report_xml_ensure(row)
    letter_message.text = "Changed in between"
    letter_message.save()
    assert report_xml_ensure(other_worker_copy) == first
    assert bytes(HrmReport.objects.get(pk=row.pk).xml) == first


def test_a_batch_of_files_is_stored_in_one_go_keeping_any_file_stored_first(
    letter_message, recipients
):
    rows = message_reports_create(message=letter_message, recipients=recipients)
    built = [(row, report_xml_build(row)) for row in rows]
    # Another worker stored its build of the first row while these were being built.
    HrmReport.objects.filter(pk=rows[0].pk).update(xml=b"<stored first/>")
    reports_xml_keep(built)
    assert bytes(rows[0].xml) == b"<stored first/>"
    assert bytes(HrmReport.objects.get(pk=rows[0].pk).xml) == b"<stored first/>"
    assert len(built) == 4
    for row, xml in built[1:]:
        assert bytes(row.xml) == xml == bytes(HrmReport.objects.get(pk=row.pk).xml)


def test_report_files_are_compressed_with_lz4_where_postgresql_has_it(db):
    # pglz, PostgreSQL's default, spends milliseconds per file failing to compress base64.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        (has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'hrm_hrmreport'::regclass AND attname = 'xml'"
        )
        assert cursor.fetchone() == ("l" if has_lz4 else "",)


def test_a_file_only_message_has_no_text_report(world, referral, recipients):
    message = services.message_post(
        referral=referral, author=world.specialist, files=[pdf_upload()]
    )
    rows = build_all(message, recipients[:1])
    assert [r.attachment_id for r in rows] == [message.attachments.get().pk]


def test_hrm_export_writes_the_exact_bytes_named_by_transaction_id(
    letter_message, recipients, tmp_path
):
    rows = build_all(letter_message, recipients)
    out = io.StringIO()
    call_command("hrm_export", str(tmp_path), "--message", str(letter_message.pk), stdout=out)
    assert "Exported 4 reports" in out.getvalue()
    for row in rows:
        exported = tmp_path / f"{row.transaction_id}.xml"
        assert exported.read_bytes() == bytes(row.xml)


def test_hrm_export_names_are_safe_for_any_transaction_id(letter_message, recipients, tmp_path):
    row = build_all(letter_message, recipients)[0]
    HrmReport.objects.filter(pk=row.pk).update(transaction_id="../evil^id/with space")
    call_command("hrm_export", str(tmp_path), stdout=io.StringIO())
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 4
    assert all("/" not in n and not n.startswith(".") and " " not in n for n in names)
    assert any(n.startswith("___evil_id_with_space_") for n in names)


def test_hrm_export_of_an_unknown_message_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="Message 424242 has no HRM reports"):
        call_command("hrm_export", str(tmp_path), "--message", "424242")


def test_a_large_letter_round_trips(world, referral, recipients):
    body = consultation_letter_pdf(["Long letter"], padding_bytes=2 * 1024 * 1024)
    message = services.message_post(
        referral=referral, author=world.specialist, files=[SimpleUploadedFile("big.pdf", body)]
    )
    row = build_all(message, recipients[:1])[0]
    media = etree.fromstring(bytes(row.xml)).find(".//{cds_dt}Media")
    assert base64.b64decode(media.text) == body


def test_hrm_export_skips_reports_not_built_yet(letter_message, recipients, tmp_path):
    rows = message_reports_create(message=letter_message, recipients=recipients)
    report_xml_ensure(rows[0])
    out = io.StringIO()
    call_command("hrm_export", str(tmp_path), stdout=out)
    assert "Exported 1 report to" in out.getvalue()
    assert "3 report(s) not built yet" in out.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == [f"{rows[0].transaction_id}.xml"]


# --- what Open-O, OSCAR and Juno need of a message's reports -------------------------------------


def parts_of(rows, recipient):
    return [hrm_file_read(bytes(row.xml)) for row in rows if row.recipient == recipient]


def test_each_part_of_a_message_has_its_own_event_time(world, referral, recipients, settings):
    # HRM-FORMAT.md 11.4 and row 22: OSCAR and Open-O hide a report that shares its
    # EventDateTime with another for the same patient, as a "changed version" of it.
    message = services.message_post(
        referral=referral,
        author=world.specialist,
        text="Seen today.",
        files=[pdf_upload(), jpeg_upload(), text_upload()],
    )
    rows = build_all(message, recipients)
    for recipient in recipients:
        times = [parsed.event_datetime for parsed in parts_of(rows, recipient)]
        assert len(times) == 4 and len(set(times)) == 4
    # Every recipient of one part gets the same time: one letter to N recipients is N files that
    # differ only in TransactionInformation (OSCAR's "same report, another recipient").
    by_part = {}
    for row in rows:
        parsed = hrm_file_read(bytes(row.xml))
        by_part.setdefault(row.attachment_id, set()).add(parsed.event_datetime)
    assert all(len(times) == 1 for times in by_part.values())
    for row in HrmReport.objects.all():
        report_validate(bytes(row.xml), settings.HRM_SCHEMA)


def test_row_22_no_two_reports_to_one_recipient_for_one_patient_share_an_event_time(
    world, referral, recipients
):
    # Two messages in the same second, and a second referral for the same patient.
    other = make_referral(world.referrer, world.practice_listing, world.cardiology)
    messages = [
        services.message_post(referral=referral, author=world.specialist, text="First."),
        services.message_post(
            referral=referral, author=world.specialist, text="Second.", files=[pdf_upload()]
        ),
        services.message_post(referral=other, author=world.specialist, text="Third."),
    ]
    second = messages[0].created_at.replace(microsecond=0)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(created_at=second)
    rows = []
    for message in messages:
        message.refresh_from_db()
        rows += build_all(message, recipients)
    for recipient in recipients:
        times = [parsed.event_datetime for parsed in parts_of(rows, recipient)]
        assert len(times) == 4 and len(set(times)) == 4, times


def test_a_jpeg_travels_with_the_data_dictionary_extension(world, referral, recipients):
    message = services.message_post(
        referral=referral, author=world.specialist, files=[jpeg_upload()]
    )
    (parsed,) = parts_of(build_all(message, recipients[:1]), recipients[0])
    assert (parsed.format, parsed.file_extension) == ("Binary", ".jpeg")
    assert parsed.file_data == JPEG_BYTES


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_a_plain_text_file_travels_as_a_text_report(
    world, referral, recipients, encoding, settings
):
    # HRM carries no .txt file (Open-O refuses it): the file's text becomes a text report.
    upload = text_upload("Notes é.txt", "Tension 120/80\r\nPlan: <b>écho</b> & suivi", encoding)
    message = services.message_post(referral=referral, author=world.specialist, files=[upload])
    rows = build_all(message, recipients[:1])
    (parsed,) = parts_of(rows, recipients[0])
    assert (parsed.format, parsed.file_extension) == ("Text", "From OMD Report Manager")
    assert parsed.report_text == (
        "Attached file: Notes é.txt\n\nTension 120/80\nPlan: <\u2060b>écho<\u2060/b> & suivi"
    )
    report_validate(bytes(rows[0].xml), settings.HRM_SCHEMA)


def test_text_that_is_only_debris_is_no_text_report(world, referral, recipients):
    message = services.message_post(
        referral=referral, author=world.specialist, text="\x00\x01\u2028 \x0b", files=[pdf_upload()]
    )
    assert message.text == ""
    rows = build_all(message, recipients[:1])
    assert [row.attachment_id for row in rows] == [message.attachments.get().pk]


def test_reports_for_one_patient_to_different_clinicians_never_share_an_event_time(
    world, referral, recipients
):
    # OSCAR's similar-report check spans the whole EMR: every report for a patient of the same
    # legal name, whichever clinician it is for.
    first = services.message_post(referral=referral, author=world.specialist, text="To Nguyen.")
    second = services.message_post(referral=referral, author=world.specialist, text="To Okafor.")
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(
        created_at=first.created_at.replace(microsecond=0)
    )
    first.refresh_from_db()
    second.refresh_from_db()
    rows = build_all(first, recipients[:1]) + build_all(second, recipients[1:])
    times = [hrm_file_read(bytes(row.xml)).event_datetime for row in rows]
    assert len(set(times)) == 2, times


def test_a_report_is_dated_after_any_report_for_its_patient_by_card_or_by_name(
    world, referral, recipients
):
    since = timezone.now().replace(microsecond=0)
    same_card = make_referral(
        world.referrer, world.practice_listing, world.cardiology, patient_first_name="Helen"
    )
    same_name = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="HÉLÈNE",
        patient_last_name="tremblay",
        patient_health_card_number="1234567897",
    )
    someone_else = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Marc",
        patient_health_card_number="1111111118",
    )

    def report_at(for_referral, seconds=None):
        message = services.message_post(referral=for_referral, author=world.referrer, text="x")
        Message.objects.filter(pk=message.pk).update(created_at=since)
        message.refresh_from_db()
        [row] = message_reports_create(message=message, recipients=recipients[:1])
        assert row.pk and row.event_at == HrmReport.objects.get(pk=row.pk).event_at
        if seconds is not None:
            HrmReport.objects.filter(pk=row.pk).update(event_at=since + timedelta(seconds=seconds))
        return row.event_at

    assert report_at(someone_else, 100) == since
    assert report_at(same_card, -5) == since  # before the message was sent: not looked at
    assert report_at(referral) == since
    report_at(same_card, 10)
    report_at(same_name, 20)
    assert report_at(referral) == since + timedelta(seconds=21)


@pytest.mark.django_db(transaction=True)
def test_a_send_for_the_same_patient_waits_and_then_dates_its_reports_after_the_first(
    world, referral, recipients
):
    # Two Sends for one patient at once, from two referrals, in the same second: the second
    # reads the report times only once the first has committed its own.
    other = make_referral(world.referrer, world.practice_listing, world.cardiology)
    first_message = services.message_post(referral=referral, author=world.referrer, text="1")
    second_message = services.message_post(referral=other, author=world.referrer, text="2")
    Message.objects.filter(pk=second_message.pk).update(created_at=first_message.created_at)
    second_message.refresh_from_db()
    chosen, commit, dated = threading.Event(), threading.Event(), []

    def send(message, *, hold: bool):
        try:
            with transaction.atomic():
                [row] = message_reports_create(message=message, recipients=recipients[:1])
                dated.append(row.event_at)
                if hold:
                    chosen.set()
                    commit.wait(10)
        finally:
            connection.close()

    first = threading.Thread(target=send, args=(first_message,), kwargs={"hold": True})
    second = threading.Thread(target=send, args=(second_message,), kwargs={"hold": False})
    first.start()
    assert chosen.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive() and len(dated) == 1  # waiting for the first Send's lock
    commit.set()
    for thread in (first, second):
        thread.join(10)
    assert dated == [dated[0], dated[0] + timedelta(seconds=1)]


def test_typed_text_goes_as_the_letter_only_from_a_site_that_chose_it(
    letter_message, recipients, world
):
    """The site setting is the author's site's: another site's choice changes nothing."""
    # A recipient's site, not the author's:
    world.practice_listing.site.text_as_addendum_letter = True
    world.practice_listing.site.save()
    text_row = next(r for r in build_all(letter_message, recipients) if r.attachment_id is None)
    assert hrm_file_read(bytes(text_row.xml)).format == "Text"

    author_site = letter_message.author_listing.site
    author_site.text_as_addendum_letter = True
    author_site.save()
    second = services.message_post(
        referral=letter_message.referral, author=world.specialist, text="Echo booked."
    )
    (row, _) = build_all(second, recipients)
    parsed = hrm_file_read(bytes(row.xml))
    assert (parsed.format, parsed.file_extension) == ("Binary", ".pdf")
    assert parsed.file_data.startswith(b"%PDF")
