"""The sandbox EMR's profiles (HRM_SANDBOX_EMR_PROFILE): each applies its EMR's own rules, as the
EMR's public code does (HRM-FORMAT.md 9, 11.2 to 11.5). Files are written by hand so each rule is
tested with exactly the value it is about; files from the product's builder show what our sender
gets today."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from hrm.reports.types import ReportFile, ReportText
from sandbox.emrs import emr_profile
from sandbox.models import EmrDocument, EmrPatient, EmrRetrievalLog
from sandbox.services.filing import sandbox_file_report

from .conftest import GIF, JPEG, PDF, PNG, TIFF, hrm_xml, sender_xml

Outcome = EmrRetrievalLog.Outcome
PROFILES = ["open-o", "oscar", "juno"]


def file(xml: bytes, profile: str, name: str = "report.xml.enc") -> EmrRetrievalLog:
    return sandbox_file_report(xml, name, profile=profile)


def assert_refused(logged: EmrRetrievalLog, *words: str) -> None:
    assert logged.outcome == Outcome.REFUSED, logged.detail
    assert logged.document is None
    for word in words:
        assert word in logged.error, logged.error
    assert not EmrDocument.objects.filter(message_unique_id=logged.message_unique_id).exists()


# --- The setting --------------------------------------------------------------------------------


def test_the_default_profile_is_open_o_and_a_wrong_name_is_a_clear_error(settings, emr):
    assert emr_profile() == "open-o"
    settings.HRM_SANDBOX_EMR_PROFILE = "OSCAR"
    assert emr_profile() == "oscar"
    assert sandbox_file_report(hrm_xml(), "a.xml.enc").emr_profile == "oscar"
    settings.HRM_SANDBOX_EMR_PROFILE = "medesync"
    with pytest.raises(ImproperlyConfigured, match="one of open-o, oscar, juno"):
        sandbox_file_report(hrm_xml(), "b.xml.enc")
    assert EmrRetrievalLog.objects.count() == 1


# --- Open-O's refusals (HRM-FORMAT.md 11.5, conformance rows 11, 12 and 21) ---------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"text": ""}, "the required element TextContent (in Content) is present but empty"),
        ({"text": " \n\t "}, "TextContent (in Content) is present but empty"),
        ({"extension": ".txt"}, "FileExtensionAndVersion must be 'From OMD Report Manager'"),
        ({"extension": "from omd report manager"}, "it is 'from omd report manager'"),
        ({"media": JPEG, "extension": ".jpg"}, "must be one of .pdf .tiff .rtf .jpeg .gif"),
        ({"media": b"Seen today.", "extension": ".txt"}, "it is '.txt'"),
        ({"media": TIFF, "extension": ".tif"}, "it is '.tif'"),
        ({"media": PNG, "extension": ".pdf"}, "named .pdf but its content is not a PDF file"),
        ({"media": b"%PDF-1.4 but no more", "extension": ".pdf"}, "not a PDF file"),
        ({"media": PDF, "extension": ".png"}, "named .png but its content is not a PNG file"),
        ({"media": PNG, "extension": ".jpeg"}, "not a JPEG file"),
        ({"media": b"plain words", "extension": ".html"}, "not a HTML file"),
        ({"date_of_birth": "1799-12-31"}, "date of birth (1799-12-31) is before 1800"),
        (
            {"date_of_birth": (datetime.date.today() + datetime.timedelta(days=1)).isoformat()},
            "is in the future",
        ),
    ],
    ids=[
        "empty text",
        "blank text",
        "text as .txt",
        "extension case",
        ".jpg",
        "binary .txt",
        ".tif",
        "PNG as .pdf",
        "broken PDF",
        "PDF as .png",
        "PNG as .jpeg",
        "words as .html",
        "born before 1800",
        "born tomorrow",
    ],
)
def test_open_o_refuses_what_oscar_files(emr, changes, words):
    refused = file(hrm_xml(**changes), "open-o", "refused.xml.enc")
    assert_refused(refused, "Open-O refuses this file", words)
    assert refused.emr_profile == "open-o" and refused.message_unique_id
    # The older OSCAR has none of these checks: the same file is filed.
    assert file(hrm_xml(**changes), "oscar").outcome == Outcome.FILED


@pytest.mark.parametrize(
    ("media", "extension"),
    [
        (PDF, ".pdf"),
        (PDF, ".PDF"),  # Open-O compares the extension ignoring case
        (JPEG, ".jpeg"),
        (PNG, ".png"),
        (GIF, ".gif"),
        (TIFF, ".tiff"),
        (b"{\\rtf1 Seen today.}", ".rtf"),
        (b"<p>Seen today.</p>", ".html"),
    ],
)
def test_open_o_files_each_data_dictionary_format_with_matching_content(emr, media, extension):
    logged = file(hrm_xml(media=media, extension=extension), "open-o")
    assert logged.outcome == Outcome.FILED, logged.error
    assert bytes(logged.document.file_data) == media


def test_open_o_allows_an_optional_element_left_empty_and_the_edge_dates_of_birth(emr):
    optional_empty = file(hrm_xml(sending_facility=""), "open-o")  # minOccurs="0"
    assert optional_empty.outcome == Outcome.FILED, optional_empty.error
    born_1800 = file(hrm_xml(date_of_birth="1800-01-01", report_number="B-1800"), "open-o")
    assert born_1800.outcome == Outcome.FILED, born_1800.error
    today = datetime.date.today().isoformat()
    born_today = file(hrm_xml(date_of_birth=today, report_number="B-today"), "open-o")
    assert born_today.outcome == Outcome.FILED, born_today.error


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_files_the_text_jpeg_and_pdf_reports_our_sender_builds(emr, profile):
    """Our builder writes 'From OMD Report Manager' for typed text and '.jpeg' for a JPEG."""
    sent = datetime.datetime(2026, 3, 2, 15, 4, 5, tzinfo=datetime.UTC)
    parts = (ReportText("Seen today."), ReportFile(JPEG, ".jpg"), ReportFile(PDF, ".pdf"))
    for seconds, content in enumerate(parts):
        at = sent + datetime.timedelta(seconds=seconds)  # each part its own EventDateTime
        logged = file(sender_xml(content=content, event_datetime=at), profile)
        assert logged.outcome == Outcome.FILED, logged.error
        assert not EmrDocument.objects.get(pk=logged.document.pk).is_hidden


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_keeps_oscars_required_fields_apart_from_juno(emr, profile):
    logged = file(hrm_xml(event_datetime=None), profile)
    if profile == "juno":
        assert logged.outcome == Outcome.FILED
    else:
        assert_refused(logged, "OSCAR drops this report", "no report date (EventDateTime)")


# --- The similar-report check (HRM-FORMAT.md 11.4, conformance row 22) --------------------------


def text_and_pdf(first_time: str, second_time: str, **changes) -> tuple[bytes, bytes]:
    """The two parts of one message to Dr. Nguyen: typed text, then its PDF."""
    return (
        hrm_xml(event_datetime=first_time, report_number="MSG-1-T", **changes),
        hrm_xml(
            media=PDF,
            extension=".pdf",
            event_datetime=second_time,
            report_number="MSG-1-P",
            **changes,
        ),
    )


@pytest.mark.parametrize("profile", ["open-o", "oscar"])
def test_two_parts_sharing_an_event_time_show_as_one_document(emr, profile):
    text, pdf = text_and_pdf("2026-03-02T10:04:05", "2026-03-02T10:04:05")
    shown = file(text, profile, "text.xml.enc").document
    logged = file(pdf, profile, "pdf.xml.enc")

    assert logged.outcome == Outcome.FILED
    hidden = EmrDocument.objects.get(pk=logged.document.pk)
    assert hidden.is_hidden and hidden.similar_to == shown
    assert hidden.similarity_score == 45
    assert (
        "content different +10, status equal +5, class equal +10, report date equal +20 = 45"
        in hidden.hidden_reason
    )
    assert f"document #{shown.pk}" in hidden.hidden_reason
    assert logged.detail == hidden.hidden_reason
    assert not EmrDocument.objects.get(pk=shown.pk).is_hidden


@pytest.mark.parametrize("profile", ["open-o", "oscar"])
def test_parts_with_their_own_event_times_are_both_shown(emr, profile):
    text, pdf = text_and_pdf("2026-03-02T10:04:05", "2026-03-02T10:04:06")
    file(text, profile)
    file(pdf, profile)
    assert EmrDocument.objects.count() == 2
    assert not EmrDocument.objects.filter(similar_to__isnull=False).exists()


def test_juno_has_no_similar_report_check(emr):
    text, pdf = text_and_pdf("2026-03-02T10:04:05", "2026-03-02T10:04:05")
    file(text, "juno")
    file(pdf, "juno")
    assert not EmrDocument.objects.filter(similar_to__isnull=False).exists()


def test_todays_sender_has_the_pdf_of_a_message_hidden_behind_its_text_under_oscar(emr):
    """Today both parts of a message carry the message's time as EventDateTime (issue 9)."""
    sent = datetime.datetime(2026, 3, 2, 15, 4, 5, tzinfo=datetime.UTC)
    text = file(sender_xml(event_datetime=sent), "oscar").document
    pdf = file(sender_xml(event_datetime=sent, pdf=True), "oscar").document
    pdf.refresh_from_db()
    assert pdf.similar_to == text and pdf.similarity_score == 45


def test_a_report_similar_to_a_hidden_one_is_filed_under_the_first(emr):
    first = file(hrm_xml(text="One", report_number="A"), "oscar").document
    second = file(hrm_xml(text="Two", report_number="B"), "oscar").document
    third = file(hrm_xml(text="Three", report_number="C"), "oscar").document
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.similar_to == first and third.similar_to == first


def test_the_check_compares_reports_for_a_chart_of_the_same_legal_name_only(emr):
    EmrPatient.objects.create(
        first_name="Wei",
        last_name="Chen",
        sex="M",
        date_of_birth=datetime.date(1980, 1, 1),
        health_card_number="1234567897",
    )
    other = {
        "first_name": "Wei",
        "last_name": "Chen",
        "sex": "M",
        "date_of_birth": "1980-01-01",
        "health_card_number": "1234567897",
    }
    file(hrm_xml(text="For Hélène", report_number="H"), "open-o")
    chen = file(hrm_xml(text="For Wei", report_number="W", **other), "open-o").document
    assert chen.patient is not None and not chen.is_hidden
    # An unlinked report (no chart) is never compared with: nothing here hides the next one.
    unlinked = file(hrm_xml(text="Who?", sex="M", report_number="U"), "open-o").document
    assert unlinked.patient is None
    later = file(hrm_xml(text="Again for Wei", report_number="W2", **other), "open-o").document
    later.refresh_from_db()
    assert later.similar_to == chen  # same name and time: Wei's older report, not Hélène's


# --- OSCAR's hashes (HRM-FORMAT.md 11.3) --------------------------------------------------------


@pytest.mark.parametrize("profile", ["open-o", "oscar"])
def test_the_same_file_under_a_new_message_unique_id_is_a_duplicate(emr, profile):
    first = file(hrm_xml(report_number="R", message_unique_id="R-1"), profile).document
    again = file(hrm_xml(report_number="R", message_unique_id="R-2"), profile)
    assert again.outcome == Outcome.DUPLICATE and again.document == first
    assert "same file as document" in again.detail
    assert EmrDocument.objects.get().duplicate_count == 1


def test_under_juno_the_same_file_under_a_new_message_unique_id_is_filed_again(emr):
    file(hrm_xml(report_number="R", message_unique_id="R-1"), "juno")
    assert file(hrm_xml(report_number="R", message_unique_id="R-2"), "juno").outcome == "filed"
    assert EmrDocument.objects.count() == 2


@pytest.mark.parametrize("profile", ["open-o", "oscar"])
def test_the_same_report_for_another_recipient_is_routed_to_them_not_filed_again(emr, profile):
    for_nguyen = file(hrm_xml(report_number="R"), profile).document
    for_okafor = file(
        hrm_xml(report_number="R", deliver_to="N1234567", provider=("Grace", "Okafor")), profile
    )
    assert for_okafor.outcome == Outcome.ROUTED and for_okafor.document == for_nguyen
    assert "routed to Grace Okafor (N1234567)" in for_okafor.detail
    assert list(for_nguyen.also_routed_to.all()) == [emr.okafor]
    assert EmrDocument.objects.count() == 1


@pytest.mark.parametrize("profile", ["open-o", "oscar"])
def test_the_same_report_again_for_a_corrected_patient_is_filed_under_the_first(emr, profile):
    """OSCAR's third hash (the file without Demographics and MessageUniqueID): Open-O's code
    makes the new report the child of the older one."""
    first = file(hrm_xml(report_number="R", message_unique_id="R-1"), profile).document
    corrected = file(
        hrm_xml(report_number="R", message_unique_id="R-2", first_name="Helene"), profile
    )
    assert corrected.outcome == Outcome.FILED
    document = EmrDocument.objects.get(pk=corrected.document.pk)
    assert document.similar_to == first and document.similarity_score is None
    assert "sent for another patient" in document.hidden_reason


def test_under_juno_each_recipient_gets_its_own_document(emr):
    file(hrm_xml(report_number="R"), "juno")
    okafor = file(hrm_xml(report_number="R", deliver_to="N1234567"), "juno")
    assert okafor.outcome == Outcome.FILED and okafor.document.provider == emr.okafor


# --- The author as each EMR shows it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "open_o", "juno"),
    [
        (None, "^Lee^François^^^^", "Lee François", "Lee François"),
        (
            None,
            "12345^Lee^François^A^^Dr^MD",
            "12345 Lee François A MD",
            "12345 Lee François A Dr MD",
        ),
        ("François", "Lee", "Lee François", "Lee"),
        ("François", "^Lee^François^^^^", "Lee François François", "Lee François"),
        ("François", None, "François", ""),
        (None, None, "", ""),
    ],
    ids=[
        "HRM caret name",
        "seven parts",
        "plain name",
        "caret and first name",
        "first only",
        "none",
    ],
)
def test_the_author_is_stored_as_each_emr_shows_it(emr, first, last, open_o, juno):
    xml = {"author_first": first, "author_last": last}
    by_profile = {}
    for profile in PROFILES:
        by_profile[profile] = file(hrm_xml(**xml, report_number=f"A-{profile}"), profile).document
    assert by_profile["open-o"].author_name == open_o
    assert by_profile["juno"].author_name == juno
    # OSCAR's report page shows no author.
    assert by_profile["oscar"].author_name == ""
    if last is not None:
        assert repr(last) in by_profile["oscar"].author_as_written


# --- Markup OSCAR would interpret ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Seen today <b>not bold</b>.", "<b, </b"),
        ("<script>alert(1)</script>", "<script, </script"),
        ("Fish &amp; chips &#169; &eacute;", "&amp;, &#169;, &eacute;"),
        ("Tom &amp Jerry", "&amp"),
        ("BP < 120 & HR > 60; R&D; x<3; a && b", ""),
        ("Plain text.\nSecond line.", ""),
    ],
)
@pytest.mark.parametrize("profile", PROFILES)
def test_a_text_report_with_markup_oscar_would_interpret_is_flagged(emr, profile, text, found):
    document = file(hrm_xml(text=text), profile).document
    assert document.text == text
    assert document.text_markup == found


@pytest.mark.parametrize("profile", PROFILES)
def test_our_sender_guards_typed_markup_so_no_emr_would_interpret_it(emr, profile):
    xml = sender_xml(content=ReportText("Seen today <b>&amp;</b> booked."))
    assert file(xml, profile).document.text_markup == ""


# --- Juno (HRM-FORMAT.md 11.2) ------------------------------------------------------------------


def test_juno_refuses_a_report_without_format_and_the_others_file_it(emr):
    assert_refused(file(hrm_xml(report_format=None), "juno"), "Juno", "no Format")
    assert file(hrm_xml(report_format=None, report_number="F"), "oscar").outcome == "filed"


@pytest.mark.parametrize(
    ("deliver_to", "juno_routes"),
    [("d12345", True), ("n1234567", True), ("D012345", False), ("x12345", False)],
)
def test_juno_reads_the_routing_prefix_ignoring_its_case(emr, deliver_to, juno_routes):
    juno = file(hrm_xml(deliver_to=deliver_to, report_number="J"), "juno").document
    open_o = file(hrm_xml(deliver_to=deliver_to, report_number="O"), "open-o").document
    assert (juno.provider is not None) is juno_routes
    assert open_o.provider is None  # Open-O's prefix is case-sensitive, the number exact


@pytest.mark.parametrize(
    ("changes", "juno_links"),
    [
        ({}, True),
        ({"health_card_version": "ZZ"}, False),
        ({"health_card_version": "ab"}, True),
        ({"health_card_version": None}, True),
        ({"province": "CA-QC"}, False),
    ],
    ids=["same", "other version", "version case", "no version", "other province"],
)
def test_juno_also_compares_version_and_province_when_the_report_has_them(emr, changes, juno_links):
    juno = file(hrm_xml(report_number="J", **changes), "juno").document
    assert (juno.patient == emr.chart) is juno_links
    assert file(hrm_xml(report_number="O", **changes), "oscar").document.patient == emr.chart


def test_juno_links_only_when_exactly_one_chart_fits(emr):
    EmrPatient.objects.create(
        first_name="Helene",
        last_name="TREMBLAY",
        sex="F",
        date_of_birth=datetime.date(1961, 4, 18),
        health_card_number="9876543217",
        health_card_version="AB",
        province="ON",
    )
    assert file(hrm_xml(report_number="J"), "juno").document.patient is None
    assert file(hrm_xml(report_number="O"), "oscar").document.patient == emr.chart


def test_manage_py_check_names_a_wrong_profile(settings):
    settings.HRM_SANDBOX_EMR_PROFILE = "openo"
    with pytest.raises(SystemCheckError, match="hrm_sandbox.E001.*one of open-o, oscar, juno"):
        call_command("check")
    settings.HRM_SANDBOX_EMR_PROFILE = "juno"
    call_command("check")
