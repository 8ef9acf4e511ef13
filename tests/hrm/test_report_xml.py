"""The HRM report file: builder and validator, and one test per applicable row of the
conformance table in HRM-FORMAT.md section 14 (row 19 is in test_crypto.py; row 20, filing through
OSCAR's upload or the sandbox EMR, belongs to the sandbox's tests). What the builder wrote is read
back with the sandbox EMR's reader, which shares no code with the builder or the validator."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from directory.text_limits import utf16_length
from hrm.reports.build import report_build
from hrm.reports.reading import MAX_FILE_BYTES, ReportInvalid
from hrm.reports.text import (
    author_name_hrm,
    emr_text_prepare,
    event_datetime_text,
    file_extension_normalise,
    markup_present,
    province_code,
    xml_text_clean,
)
from hrm.reports.types import (
    BINARY_FILE_EXTENSIONS,
    REPORT_CLASSES,
    TEXT_FILE_EXTENSION,
    XML_DECLARATION,
    ReportFile,
    ReportText,
)
from hrm.reports.validation import report_validate, schema_load
from sandbox.reading import hrm_file_read

NS = {"cds": "cds", "cdsd": "cds_dt"}
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
SIGNATURES = {
    ".pdf": b"%PDF-1.5\n",
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpeg": b"\xff\xd8\xff\xe0",
    ".tiff": b"II*\x00",
    ".gif": b"GIF89a",
    ".rtf": b"{\\rtf1\\ansi ",
}
WJ = "\u2060"  # the invisible mark that keeps a < or & from starting markup in OSCAR
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers ------------------------------------------------------------------------------------


def problems_of(xml: bytes, schema) -> list[str]:
    with pytest.raises(ReportInvalid) as caught:
        report_validate(xml, schema)
    assert caught.value.problems, "ReportInvalid must carry at least one problem"
    return caught.value.problems


def mutate(xml: bytes, change) -> bytes:
    """Re-serialise ``xml`` after ``change(root)``, compactly as the builder does."""
    root = etree.fromstring(xml)
    change(root)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


def node(root, path: str):
    found = root.find(path, NS)
    assert found is not None, path
    return found


def set_text(path: str, value: str):
    def change(root):
        node(root, path).text = value

    return change


def remove(path: str):
    def change(root):
        element = node(root, path)
        element.getparent().remove(element)

    return change


def mentions(problems: list[str], words: str) -> bool:
    return any(words in problem for problem in problems)


RECORD = "cds:PatientRecord"
DEMO = f"{RECORD}/cds:Demographics"
RR = f"{RECORD}/cds:ReportsReceived"
TI = f"{RECORD}/cds:TransactionInformation"


# --- the builder's output -----------------------------------------------------------------------


def test_text_report_is_the_documented_single_line_file(make_report, hrm_schema):
    xml = report_build(make_report())
    expected = (
        '<?xml version="1.0" encoding="UTF-8"?><OmdCds xmlns="cds" xmlns:cdsd="cds_dt">'
        '<PatientRecord><Demographics><Names><cdsd:LegalName namePurpose="L">'
        "<cdsd:FirstName><cdsd:Part>Hélène</cdsd:Part><cdsd:PartType>GIV</cdsd:PartType>"
        "</cdsd:FirstName><cdsd:LastName><cdsd:Part>Tremblay</cdsd:Part>"
        "<cdsd:PartType>FAMC</cdsd:PartType></cdsd:LastName></cdsd:LegalName></Names>"
        "<DateOfBirth><cdsd:FullDate>1980-02-03</cdsd:FullDate></DateOfBirth>"
        "<HealthCard><cdsd:Number>1234567890</cdsd:Number><cdsd:Version>AB</cdsd:Version>"
        "<cdsd:ProvinceCode>CA-ON</cdsd:ProvinceCode></HealthCard><Gender>F</Gender>"
        "<UniqueVendorIdSequence>0</UniqueVendorIdSequence><PersonStatusCode>A</PersonStatusCode>"
        "</Demographics><ReportsReceived><Media>Download</Media><Format>Text</Format>"
        "<FileExtensionAndVersion>From OMD Report Manager</FileExtensionAndVersion>"
        "<Content><cdsd:TextContent>"
        "Seen today.\nPlan: follow up in 6 weeks.</cdsd:TextContent></Content>"
        "<Class>Consultant Report</Class><SubClass>11488-4^Consult note</SubClass>"
        "<EventDateTime><cdsd:DateTime>2024-01-05T09:30:00</cdsd:DateTime></EventDateTime>"
        "<AuthorPhysician><cdsd:LastName>^Lee^Ann^^^^</cdsd:LastName></AuthorPhysician>"
        "<SendingFacility>1234</SendingFacility>"
        "<SendingFacilityReportNumber>MSG-42-TEXT</SendingFacilityReportNumber>"
        "<ResultStatus>S</ResultStatus></ReportsReceived><TransactionInformation>"
        "<MessageUniqueID>MSG-42-TEXT-D12345</MessageUniqueID>"
        "<DeliverToUserID>D12345</DeliverToUserID><Provider><cdsd:FirstName>Raj</cdsd:FirstName>"
        "<cdsd:LastName>Patel</cdsd:LastName></Provider></TransactionInformation>"
        "</PatientRecord></OmdCds>"
    ).encode()
    assert xml == expected
    report_validate(xml, hrm_schema)


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2024, 1, 5, 14, 30, 15, 999999, tzinfo=UTC), "2024-01-05T09:30:15"),  # EST
        (datetime(2024, 7, 5, 14, 30, tzinfo=UTC), "2024-07-05T10:30:00"),  # EDT
        (datetime(2024, 7, 5, 10, 30, tzinfo=timezone(timedelta(hours=-4))), "2024-07-05T10:30:00"),
    ],
)
def test_event_time_is_written_in_ontario_local_time(make_report, moment, written):
    xml = report_build(make_report(event_datetime=moment))
    assert hrm_file_read(xml).event_datetime == written
    assert event_datetime_text(moment) == written


def test_naive_event_time_is_refused(make_report):
    with pytest.raises(ValueError, match="timezone-aware"):
        report_build(make_report(event_datetime=datetime(2024, 1, 5, 9, 30)))


def test_unknown_content_is_refused(make_report):
    with pytest.raises(TypeError, match="ReportText or ReportFile"):
        report_build(make_report(content="just a string"))


@pytest.mark.parametrize(
    ("given_extension", "sent_extension"),
    [
        (".pdf", ".pdf"),
        (".PDF", ".pdf"),
        ("pdf", ".pdf"),
        ("Consult letter.Pdf", ".pdf"),
        (".png", ".png"),
        (".jpg", ".jpeg"),
        (".jpeg", ".jpeg"),
        ("photo.JPG", ".jpeg"),
        (".tif", ".tiff"),
        (".tiff", ".tiff"),
        (".gif", ".gif"),
        (".rtf", ".rtf"),
    ],
)
def test_binary_reports_of_each_type_validate_and_round_trip(
    make_pdf_report, hrm_schema, given_extension, sent_extension
):
    data = SIGNATURES[sent_extension] + bytes(range(256)) * 3
    xml = report_build(make_pdf_report(content=ReportFile(data, given_extension)))
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert (parsed.format, parsed.file_extension, parsed.file_data, parsed.report_text) == (
        "Binary",
        sent_extension,
        data,
        None,
    )


def test_the_largest_allowed_attachment_travels(make_pdf_report, hrm_schema):
    data = PDF + bytes(range(256)) * (10 * 1024 * 1024 // 256)  # the product's 10 MB limit
    xml = report_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    assert len(xml) > 10_000_000  # beyond libxml2's default limit for one text node
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).file_data == data


def test_an_oversized_file_is_refused_before_parsing(hrm_schema):
    huge = XML_DECLARATION + b"<OmdCds>" + b" " * MAX_FILE_BYTES + b"</OmdCds>"
    with pytest.raises(ReportInvalid, match="at most 33,554,432 are accepted"):
        report_validate(huge, hrm_schema)


def test_province_codes():
    assert [province_code(p) for p in ("ON", "on", " QC ", "CA-BC", "US-NY", "-50")] == [
        "CA-ON",
        "CA-ON",
        "CA-QC",
        "CA-BC",
        "US-NY",
        "-50",
    ]


def test_file_extensions_are_lower_case_and_dotted():
    assert file_extension_normalise(" .JPEG ") == ".jpeg"
    assert file_extension_normalise("photo.jpg") == ".jpeg"
    assert file_extension_normalise("scan.TIF") == ".tiff"
    assert file_extension_normalise("rtf") == ".rtf"


# --- characters XML 1.0 cannot carry ------------------------------------------------------------


def test_text_cleaning_keeps_line_breaks_and_drops_what_xml_cannot_carry():
    text = "a\r\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h\ti\x00j\x1fk\ud800l\ufffem\uffffn\x7fo\x9bp"
    cleaned = xml_text_clean(text, multiline=True)
    assert cleaned.text == "a\nb\nc\nd\ne\nf\ng\nh\tijklmnop"
    assert cleaned.removed == 7


def test_single_line_fields_turn_breaks_into_spaces_and_are_trimmed():
    assert xml_text_clean("  Marie\r\nClaire\t\x01 ") == ("Marie Claire", 1)


def test_text_is_normalised_to_nfc_so_accents_match_the_chart():
    decomposed = "He\u0301le\u0300ne Franc\u0327ois"
    assert xml_text_clean(decomposed).text == "Hélène François"


def test_markup_reads_as_typed_but_cannot_act_as_markup_in_oscar(make_report, hrm_schema):
    # OSCAR prints TextContent into its page without escaping it: an invisible mark after each
    # "<" or "&" that would start a tag or a character reference keeps it plain text.
    text = "<b>Urgent</b> & <script>x</script> &amp; &lt; &#60; BP < 120, a<3, R&D, AT&T"
    xml = report_build(make_report(content=ReportText(text), patient={"last_name": "O'Brien <b>&"}))
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert parsed.report_text == (
        f"<{WJ}b>Urgent<{WJ}/b> & <{WJ}script>x<{WJ}/script> &{WJ}amp; &{WJ}lt; &{WJ}#60; "
        "BP < 120, a<3, R&D, AT&T"
    )
    assert parsed.report_text.replace(WJ, "") == text  # what the clinician reads
    assert not markup_present(parsed.report_text)
    assert parsed.patient_last_name == "O'Brien <b>&"


def test_text_preparation_tells_the_author_what_changed():
    prepared = emr_text_prepare("\n  Plan\x00 A\x1b <i>now</i>  \n")
    assert prepared.text == f"  Plan A <{WJ}i>now<{WJ}/i>"
    assert prepared.changes == (
        "2 invisible control character(s) that cannot be sent to EMRs were removed.",
        "2 place(s) where a < or & would have started formatting in an EMR got an invisible "
        "mark, so every EMR shows the text exactly as typed.",
    )
    assert emr_text_prepare(prepared.text) == (prepared.text, ())  # idempotent
    assert emr_text_prepare("Seen today.") == ("Seen today.", ())
    removed = "2 invisible control character(s) that cannot be sent to EMRs were removed."
    assert emr_text_prepare("\x00\x01 \x0b") == ("", (removed,))


def test_typed_text_keeps_its_indentation_and_inner_blank_lines(make_report, hrm_schema):
    """HRM-FORMAT.md section 9: only blank lines before the text and spaces after it go."""
    text = "\n \n    Seen today.\n\n\n    Plan:\n\t- echo\n  \n"
    assert emr_text_prepare(text).text == "    Seen today.\n\n\n    Plan:\n\t- echo"
    xml = report_build(make_report(content=ReportText(text)))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).report_text == "    Seen today.\n\n\n    Plan:\n\t- echo"


def test_the_author_is_written_as_hrm_writes_it():
    assert author_name_hrm("Ann", "Lee") == "^Lee^Ann^^^^"
    assert author_name_hrm(" François\x01", "Lee^Smith ") == "^Lee Smith^François^^^^"
    assert len(author_name_hrm("A", "B").split("^")) == 7


# --- property tests -----------------------------------------------------------------------------

SPECIALS = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\ud800",
    "\udfff",
    "\ufffe",
    "\uffff",
    "\u2028",
    "<b>",
    "</b>",
    "&",
    "&amp;",
    "]]>",
    "é",
    "e\u0301",
    "ç",
    "Ñ",
    "ß",
    "😀",
    "𝓐",
    "שלום",
    "مرحبا",
    "\u202e",
    "\u200f",
    "'",
    '"',
    " ",
]
any_char = st.characters(exclude_categories=())  # includes surrogates and controls
messy_text = st.lists(st.one_of(st.sampled_from(SPECIALS), any_char), max_size=80).map("".join)
name_text = st.lists(
    st.one_of(st.sampled_from(SPECIALS), st.characters(categories=["L"])), min_size=1, max_size=30
).map("".join)


@PROPERTY
@given(first=name_text, last=name_text, author=name_text, recipient=name_text)
def test_any_names_build_a_valid_file_that_reads_back_cleaned(
    make_report, hrm_schema, first, last, author, recipient
):
    cleaned = [xml_text_clean(name).text for name in (first, last, author, recipient)]
    assume(all(name.strip() for name in cleaned))
    # The limits the entry forms enforce, counted as the receivers count (UTF-16 units).
    assume(utf16_length(cleaned[0]) <= 50 and utf16_length(cleaned[1]) <= 50)
    assume(2 * utf16_length(cleaned[2].replace("^", " ").strip()) <= 54)
    assume(utf16_length(cleaned[3]) <= 60)
    report = make_report(
        patient={"first_name": first, "last_name": last},
        author={"first_name": author, "last_name": author},
        recipient={"first_name": recipient, "last_name": recipient},
    )
    xml = report_build(report)
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert [
        parsed.patient_first_name,
        parsed.patient_last_name,
        parsed.author_last_name,
        parsed.provider_last_name,
    ] == [*cleaned[:2], author_name_hrm(author, author), cleaned[3]]


@PROPERTY
@given(prefix=st.text(st.characters(categories=["L"]), max_size=20), wide=st.integers(26, 45))
def test_names_too_long_as_the_emrs_count_them_are_refused_in_words(
    make_report, hrm_schema, prefix, wide
):
    # 26 emoji are 26 characters for the schema (which allows 50) but 52 for Java's validators.
    name = prefix + "😀" * wide
    assert utf16_length(xml_text_clean(name).text) > 50
    problems = problems_of(report_build(make_report(patient={"last_name": name})), hrm_schema)
    assert mentions(problems, "the patient's legal last name is too long")


@PROPERTY
@given(text=messy_text)
def test_any_text_builds_a_valid_file_with_its_line_breaks(make_report, hrm_schema, text):
    text = f"Plan:{text}."  # the ends are trimmed; keep the breaks inside
    xml = report_build(make_report(content=ReportText(text)))
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml).report_text
    assert parsed == emr_text_prepare(text).text
    assert parsed.replace(WJ, "") == xml_text_clean(text, multiline=True).text.replace(WJ, "")
    line_breaks = len(re.findall("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]", text))
    assert parsed.count("\n") == line_breaks
    assert "\r" not in parsed
    assert not markup_present(parsed)


@PROPERTY
@given(text=messy_text)
def test_text_that_cleans_to_nothing_never_makes_an_empty_report(make_report, hrm_schema, text):
    prepared = emr_text_prepare(text).text
    xml = report_build(make_report(content=ReportText(text)))
    if prepared:
        report_validate(xml, hrm_schema)
    else:
        assert mentions(problems_of(xml, hrm_schema), "the message text is empty")


def test_a_megabyte_of_text_travels_whole(make_report, hrm_schema):
    text = ("Ligne é 😀 <b> & שלום \u202e\r\n" * 40_000)[: 1024 * 1024]
    xml = report_build(make_report(content=ReportText(text)))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).report_text == emr_text_prepare(text).text


@PROPERTY
@given(
    extension=st.sampled_from(sorted(SIGNATURES)),
    body=st.binary(min_size=1, max_size=4000),
)
def test_any_file_builds_a_valid_binary_report(make_pdf_report, hrm_schema, extension, body):
    data = SIGNATURES[extension] + body
    xml = report_build(make_pdf_report(content=ReportFile(data, extension.upper())))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).file_data == data


@PROPERTY
@given(
    professional_id=st.from_regex(r"[DN][1-9][0-9]{0,7}", fullmatch=True),
    report_class=st.sampled_from(REPORT_CLASSES),
    sex=st.sampled_from("MFOU"),
    born=st.dates(min_value=date(1800, 1, 1), max_value=date(2025, 12, 31)),
    sent=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    facility=st.from_regex(r"[A-Z0-9]{1,4}", fullmatch=True),
    report_number=st.from_regex(r"[A-Za-z0-9-]{1,75}", fullmatch=True),
    transaction_id=st.from_regex(r"[A-Za-z0-9^_-]{1,250}", fullmatch=True),
    version=st.from_regex(r"[A-Z]{0,2}", fullmatch=True),
)
def test_any_valid_fields_build_a_valid_file_that_reads_back(
    make_report,
    hrm_schema,
    professional_id,
    report_class,
    sex,
    born,
    sent,
    facility,
    report_number,
    transaction_id,
    version,
):
    report = make_report(
        recipient={"professional_id": professional_id},
        patient={"sex": sex, "date_of_birth": born, "health_card_version": version},
        report_class=report_class,
        event_datetime=sent,
        sending_facility=facility,
        sending_facility_report_number=report_number,
        transaction_id=transaction_id,
    )
    xml = report_build(report)
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert (
        parsed.deliver_to_user_id,
        parsed.report_class,
        parsed.sex,
        parsed.date_of_birth,
        parsed.sending_facility,
        parsed.sending_facility_report_number,
        parsed.message_unique_id,
        parsed.health_card_version,
    ) == (
        professional_id,
        report_class,
        sex,
        born.isoformat(),
        facility,
        report_number,
        transaction_id,
        version,
    )


# --- validation messages ------------------------------------------------------------------------


def test_schema_errors_come_in_plain_words_with_the_raw_detail_appended(make_report, hrm_schema):
    problems = problems_of(report_build(make_report(patient={"first_name": "x" * 51})), hrm_schema)
    assert problems == [
        "the patient's legal first name is too long: it has 51 characters as the EMRs count "
        "them, at most 50 are allowed [schema: Element '{cds_dt}Part': [facet 'maxLength'] "
        "The value has a length of '51'; this exceeds the allowed maximum length of '50'. (line 1)]"
    ]


def test_patient_values_are_withheld_from_messages(make_report, hrm_schema):
    xml = mutate(
        report_build(make_report()), set_text(f"{DEMO}/cds:DateOfBirth/cdsd:FullDate", "1980-02-30")
    )
    problems = problems_of(xml, hrm_schema)
    assert mentions(problems, "the patient's date of birth is not a valid date (YYYY-MM-DD)")
    assert not mentions(problems, "1980-02-30")


def test_a_missing_required_element_is_named(make_report, hrm_schema):
    xml = mutate(report_build(make_report()), remove(f"{TI}/cds:Provider"))
    assert mentions(problems_of(xml, hrm_schema), "the recipient's name is missing")


def test_every_problem_is_reported_at_once(make_report, hrm_schema):
    report = make_report(
        recipient={"professional_id": "d12345"},
        patient={"health_card_number": "1234 567 890"},
        report_class="Consultation Report",
    )
    problems = problems_of(report_build(report), hrm_schema)
    assert len(problems) == 3


def test_a_file_that_is_not_xml_is_invalid_in_words(hrm_schema):
    problems = problems_of(b"<OmdCds><oops></OmdCds>", hrm_schema)
    assert problems[0].startswith("the file is not well-formed XML, so no EMR can read it")


def test_entities_and_doctypes_are_never_resolved(hrm_schema, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE OmdCds [<!ENTITY s SYSTEM '
        f'"file://{secret}">]><OmdCds xmlns="cds"><PatientRecord>&s;</PatientRecord></OmdCds>'
    ).encode()
    with pytest.raises(ReportInvalid) as caught:
        report_validate(xml, hrm_schema)
    assert caught.value.problems == ["the file must not contain a DOCTYPE declaration"]


def test_the_schema_is_parsed_once_per_path(hrm_schema):
    assert schema_load(hrm_schema) is schema_load(str(hrm_schema))


def test_a_missing_schema_is_a_configuration_error(make_report, tmp_path):
    with pytest.raises(FileNotFoundError, match="HRM schema not found"):
        report_validate(report_build(make_report()), tmp_path / "nope.xsd")


# --- HRM-FORMAT.md section 14: one test per row -------------------------------------------------


def test_row_01_validates_against_v1_1_2_not_the_old_schema(
    make_report, make_pdf_report, hrm_schema, old_hrm_schema
):
    for report in (make_report(), make_pdf_report()):
        xml = report_build(report)
        report_validate(xml, hrm_schema)
        document = etree.fromstring(xml).getroottree()
        assert etree.XMLSchema(etree.parse(str(hrm_schema))).validate(document)
        # The 2012 file (Physician, no Binary) rejects real HRM output and ours alike.
        assert not etree.XMLSchema(etree.parse(str(old_hrm_schema))).validate(document)
        with pytest.raises(ReportInvalid):
            report_validate(xml, old_hrm_schema)


def test_row_02_cds_is_the_default_namespace_and_cds_dt_is_prefixed(make_report, hrm_schema):
    xml = report_build(make_report())
    root = etree.fromstring(xml)
    assert root.tag == "{cds}OmdCds" and root.nsmap[None] == "cds"
    for element in root.iter():
        if etree.QName(element).namespace == "cds":
            assert element.prefix is None and not element.attrib, element.tag
        else:
            assert element.prefix == "cdsd", element.tag
    # OSCAR's duplicate checks search the raw text for these literal tags.
    for tag in (b"<MessageUniqueID>", b"<TransactionInformation>", b"<Demographics>"):
        assert tag in xml

    prefixed = re.sub(rb"<(/?)(?!cdsd:)(\w)", rb"<\1c:\2", xml).replace(
        b'xmlns="cds"', b'xmlns:c="cds"'
    )
    assert etree.fromstring(prefixed).tag == "{cds}OmdCds"  # still the same document
    assert mentions(problems_of(prefixed, hrm_schema), "with no prefix and no attributes")

    with_attribute = mutate(xml, lambda root: node(root, f"{DEMO}/cds:Gender").set("x", "1"))
    assert mentions(problems_of(with_attribute, hrm_schema), "with no prefix and no attributes")


def test_row_03_compact_utf8_single_line_with_declaration(make_report, hrm_schema):
    xml = report_build(make_report(content=ReportText("line 1\nline 2\n\nline 4")))
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?><OmdCds ')
    assert "Hélène".encode() in xml  # UTF-8 bytes, not character references
    assert xml.count(b"\n") == 3  # only the ones inside the text
    root = etree.fromstring(xml)
    for element in root.iter():
        assert element.tail is None
        if len(element):
            assert element.text is None

    pretty = XML_DECLARATION + b"\n" + etree.tostring(root, pretty_print=True, encoding="UTF-8")
    assert mentions(problems_of(pretty, hrm_schema), "compactly on one line")
    without_declaration = xml[len(XML_DECLARATION) :]
    assert mentions(problems_of(without_declaration, hrm_schema), "must begin with <?xml")
    latin1 = etree.tostring(root, encoding="ISO-8859-1", xml_declaration=True)
    assert mentions(problems_of(latin1, hrm_schema), 'encoding="UTF-8"')


def test_row_04_exactly_one_report_and_one_recipient_per_file(make_report, hrm_schema):
    xml = report_build(make_report())
    record = etree.fromstring(xml).find(RECORD, NS)
    assert len(record.findall("cds:ReportsReceived", NS)) == 1
    assert len(record.findall("cds:TransactionInformation", NS)) == 1

    def duplicate(path):
        def change(root):
            element = node(root, path)
            element.addnext(etree.fromstring(etree.tostring(element)))

        return change

    two_reports = mutate(xml, duplicate(RR))
    assert etree.XMLSchema(etree.parse(str(hrm_schema))).validate(
        etree.fromstring(two_reports).getroottree()
    ), "the schema allows it; the rule must catch it"
    assert mentions(problems_of(two_reports, hrm_schema), "exactly one report")
    assert mentions(problems_of(mutate(xml, duplicate(TI)), hrm_schema), "exactly one recipient")
    assert mentions(problems_of(mutate(xml, remove(TI)), hrm_schema), "exactly one recipient")


@pytest.mark.parametrize("good", ["D12345", "N1234567", "D1", "N12345678"])
def test_row_05_deliver_to_user_id_accepted(make_report, hrm_schema, good):
    xml = report_build(make_report(recipient={"professional_id": good}))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).deliver_to_user_id == good


@pytest.mark.parametrize(
    "bad",
    [
        "d12345",
        "D 12345",
        " D12345",
        "D12345 ",
        "D123456789",
        "X12345",
        "D",
        "D12-345",
        "CPSO12345",
        "",
    ],
)
def test_row_05_deliver_to_user_id_refused(make_report, hrm_schema, bad):
    xml = mutate(report_build(make_report()), set_text(f"{TI}/cds:DeliverToUserID", bad))
    problems = problems_of(xml, hrm_schema)
    assert mentions(
        problems,
        "the recipient's Professional ID must be D (CPSO number) or N (CNO number) "
        "followed by up to 8 digits",
    )


def test_row_06_provider_named_and_transaction_id_present(make_report, hrm_schema):
    xml = report_build(make_report(transaction_id="T" * 250))
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert (parsed.provider_first_name, parsed.provider_last_name) == ("Raj", "Patel")
    assert parsed.message_unique_id == "T" * 250

    nameless = report_build(make_report(recipient={"first_name": " ", "last_name": ""}))
    problems = problems_of(nameless, hrm_schema)
    assert mentions(problems, "the recipient's first name is missing")
    assert mentions(problems, "the recipient's last name is missing")
    assert mentions(
        problems_of(report_build(make_report(transaction_id=" ")), hrm_schema),
        "the Transaction ID is empty",
    )
    assert mentions(
        problems_of(report_build(make_report(transaction_id="T" * 251)), hrm_schema),
        "the Transaction ID (MessageUniqueID) is too long: it has 251 characters",
    )


@pytest.mark.parametrize(
    "number", ["1234567890AB", "123456789", "12345678901", "1234-567-890", "1234 567 890", ""]
)
def test_row_07_ontario_health_card_number_is_ten_digits(make_report, hrm_schema, number):
    xml = report_build(make_report(patient={"health_card_number": number}))
    problems = problems_of(xml, hrm_schema)
    assert mentions(problems, "the patient's health card number")
    if number:
        assert mentions(problems, "the patient's health card number must be 10 digits")


def test_row_07_health_card_present_with_version_apart(make_report, hrm_schema):
    xml = report_build(make_report())
    card = node(etree.fromstring(xml), f"{DEMO}/cds:HealthCard")
    assert [(etree.QName(child).localname, child.text) for child in card] == [
        ("Number", "1234567890"),
        ("Version", "AB"),
        ("ProvinceCode", "CA-ON"),
    ]
    no_version = report_build(make_report(patient={"health_card_version": ""}))
    report_validate(no_version, hrm_schema)
    assert b"<cdsd:Version>" not in no_version

    assert mentions(
        problems_of(mutate(xml, remove(f"{DEMO}/cds:HealthCard")), hrm_schema),
        "OSCAR drops a report without one",
    )
    for version in ("ABC", "ab", "1"):
        bad = report_build(make_report(patient={"health_card_version": version}))
        assert mentions(problems_of(bad, hrm_schema), "version code must be at most two capital")
    # Other provinces' numbers are not Ontario's 10 digits.
    quebec = report_build(
        make_report(
            patient={
                "health_card_number": "TREH80020312",
                "health_card_province": "QC",
                "health_card_version": "",
            }
        )
    )
    report_validate(quebec, hrm_schema)
    unknown = report_build(make_report(patient={"health_card_province": "XX"}))
    assert mentions(
        problems_of(unknown, hrm_schema), "the health card's province is not an allowed value"
    )


def test_row_08_full_date_of_birth_and_sex_as_on_the_chart(make_report, hrm_schema):
    xml = report_build(make_report(patient={"date_of_birth": date(1931, 12, 31), "sex": "O"}))
    report_validate(xml, hrm_schema)
    parsed = hrm_file_read(xml)
    assert (parsed.date_of_birth, parsed.sex, parsed.patient_last_name) == (
        "1931-12-31",
        "O",
        "Tremblay",
    )
    assert node(etree.fromstring(xml), f"{DEMO}/cds:DateOfBirth/cdsd:FullDate").text == "1931-12-31"

    def year_only(root):
        born = node(root, f"{DEMO}/cds:DateOfBirth")
        born.remove(born[0])
        etree.SubElement(born, "{cds_dt}YearOnly").text = "1931"

    assert mentions(problems_of(mutate(xml, year_only), hrm_schema), "must be a full date")
    for sex in ("f", "X", ""):
        bad = report_build(make_report(patient={"sex": sex}))
        assert mentions(problems_of(bad, hrm_schema), "the patient's sex must be one of M, F, O, U")
    nameless = report_build(make_report(patient={"last_name": "\x00"}))
    assert mentions(problems_of(nameless, hrm_schema), "the patient's legal last name is missing")


@pytest.mark.parametrize("report_class", REPORT_CLASSES)
def test_row_09_each_allowed_class_is_accepted(make_report, hrm_schema, report_class):
    xml = report_build(make_report(report_class=report_class))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).report_class == report_class


def test_row_09_class_present_and_spelled_exactly(make_report, hrm_schema):
    assert hrm_file_read(report_build(make_report())).report_class == "Consultant Report"
    for wrong in ("Consultation Report", "consultant report", "Consultant  Report"):
        xml = mutate(report_build(make_report()), set_text(f"{RR}/cds:Class", wrong))
        assert mentions(problems_of(xml, hrm_schema), "the report class must be one of")
    missing = mutate(report_build(make_report()), remove(f"{RR}/cds:Class"))
    assert mentions(problems_of(missing, hrm_schema), "OSCAR drops a report without one")


def test_row_10_report_date_that_oscar_needs_for_the_class(make_report, hrm_schema):
    consult = report_build(make_report())
    assert node(etree.fromstring(consult), f"{RR}/cds:EventDateTime/cdsd:DateTime").text
    assert etree.fromstring(consult).find(f"{RR}/cds:OBRContent", NS) is None
    no_event = mutate(consult, remove(f"{RR}/cds:EventDateTime"))
    assert mentions(problems_of(no_event, hrm_schema), "EventDateTime) is missing")

    for imaging_class in ("Diagnostic Imaging Report", "Cardio Respiratory Report"):
        imaging = report_build(make_report(report_class=imaging_class))
        report_validate(imaging, hrm_schema)
        parsed = hrm_file_read(imaging)
        assert parsed.observation_datetime == parsed.event_datetime == "2024-01-05T09:30:00"
        no_observation = mutate(imaging, remove(f"{RR}/cds:OBRContent"))
        assert mentions(problems_of(no_observation, hrm_schema), "needs an observation date")


def test_row_11_attachment_is_a_lower_case_dotted_binary_report(make_pdf_report, hrm_schema):
    xml = report_build(make_pdf_report(content=ReportFile(PDF, "Letter.PDF")))
    report_validate(xml, hrm_schema)
    received = node(etree.fromstring(xml), RR)
    assert node(received, "cds:Format").text == "Binary"
    assert node(received, "cds:FileExtensionAndVersion").text == ".pdf"
    assert base64.b64decode(node(received, "cds:Content/cdsd:Media").text).startswith(b"%PDF")

    for extension in (".PDF", "pdf", ".p df"):
        bad = mutate(xml, set_text(f"{RR}/cds:FileExtensionAndVersion", extension))
        assert mentions(problems_of(bad, hrm_schema), "must be lower case with its leading dot")
    # Only OntarioMD's data-dictionary extensions: Open-O refuses .jpg, .tif, .txt and others.
    assert BINARY_FILE_EXTENSIONS == (".pdf", ".tiff", ".rtf", ".jpeg", ".gif", ".png", ".html")
    for extension in (".jpg", ".tif", ".txt", ".doc"):
        bad = mutate(xml, set_text(f"{RR}/cds:FileExtensionAndVersion", extension))
        assert mentions(problems_of(bad, hrm_schema), "(OntarioMD's data dictionary")
    not_a_jpeg = report_build(make_pdf_report(content=ReportFile(PDF, ".jpeg")))
    assert mentions(problems_of(not_a_jpeg, hrm_schema), "its content is not a JPEG")
    not_a_pdf = report_build(make_pdf_report(content=ReportFile(b"<html>", ".pdf")))
    assert mentions(problems_of(not_a_pdf, hrm_schema), "its content is not a PDF")
    not_a_png = report_build(make_pdf_report(content=ReportFile(PDF, ".png")))
    assert mentions(problems_of(not_a_png, hrm_schema), "its content is not a PNG")
    empty = report_build(make_pdf_report(content=ReportFile(b"", ".pdf")))
    assert mentions(problems_of(empty, hrm_schema), "the attached file is empty")

    def media_in_cds(root):
        media = node(root, f"{RR}/cds:Content/cdsd:Media")
        media.tag = "{cds}Media"

    assert problems_of(mutate(xml, media_in_cds), hrm_schema)
    assert mentions(
        problems_of(mutate(xml, remove(f"{RR}/cds:Format")), hrm_schema), "Juno needs it"
    )


def test_row_12_typed_text_is_plain_text_with_line_breaks(make_report, hrm_schema):
    text = "Dear Dr Patel,\r\n\r\nSeen today.\tBP 120/80\x0bPlan: <b>MRI</b> & review\x00.\n"
    xml = report_build(make_report(content=ReportText(text)))
    report_validate(xml, hrm_schema)
    received = node(etree.fromstring(xml), RR)
    assert node(received, "cds:Format").text == "Text"
    assert node(received, "cds:FileExtensionAndVersion").text == "From OMD Report Manager"
    assert TEXT_FILE_EXTENSION == "From OMD Report Manager"
    assert node(received, "cds:Content/cdsd:TextContent").text == (
        f"Dear Dr Patel,\n\nSeen today.\tBP 120/80\nPlan: <{WJ}b>MRI<{WJ}/b> & review."
    )
    for extension in (".txt", "From OMD report manager", "txt"):
        bad = mutate(xml, set_text(f"{RR}/cds:FileExtensionAndVersion", extension))
        assert mentions(problems_of(bad, hrm_schema), "must be 'From OMD Report Manager'")
    with_markup = mutate(xml, set_text(f"{RR}/cds:Content/cdsd:TextContent", "Plan: <b>MRI</b>"))
    assert mentions(problems_of(with_markup, hrm_schema), "OSCAR would show as formatting")
    assert b"&#13;" not in xml and b"\r" not in xml
    assert mentions(
        problems_of(mutate(xml, set_text(f"{RR}/cds:Format", "Binary")), hrm_schema),
        "a report carrying typed text must have Format 'Text'",
    )


def test_row_13_never_text_and_file_in_one_report(make_report, hrm_schema):
    xml = report_build(make_report())

    def add_media(root):
        content = node(root, f"{RR}/cds:Content")
        etree.SubElement(content, "{cds_dt}Media").text = base64.b64encode(PDF).decode()

    problems = problems_of(mutate(xml, add_media), hrm_schema)
    assert mentions(problems, "either typed text or one attached file, never both")


def test_row_14_media_is_the_delivery_medium_download(make_report, hrm_schema):
    xml = report_build(make_report())
    assert node(etree.fromstring(xml), f"{RR}/cds:Media").text == "Download"
    for medium in ("Email", "Hardcopy"):
        bad = mutate(xml, set_text(f"{RR}/cds:Media", medium))
        assert mentions(problems_of(bad, hrm_schema), "must be 'Download'")
    assert mentions(
        problems_of(mutate(xml, remove(f"{RR}/cds:Media")), hrm_schema), "must be 'Download'"
    )


def test_row_15_sending_facility_and_a_stable_report_number(make_report, hrm_schema):
    first = report_build(make_report())
    second = report_build(
        make_report(recipient={"professional_id": "N1234567"}, transaction_id="MSG-42-TEXT-N1")
    )
    for xml in (first, second):
        parsed = hrm_file_read(xml)
        assert (parsed.sending_facility, parsed.sending_facility_report_number) == (
            "1234",
            "MSG-42-TEXT",
        )
    assert mentions(
        problems_of(report_build(make_report(sending_facility="12345")), hrm_schema),
        "the sending facility ID is too long",
    )
    assert mentions(
        problems_of(report_build(make_report(sending_facility="")), hrm_schema),
        "the sending facility ID assigned by OntarioMD is missing",
    )
    assert mentions(
        problems_of(report_build(make_report(sending_facility_report_number="")), hrm_schema),
        "the sending facility report number is missing",
    )
    assert mentions(
        problems_of(report_build(make_report(sending_facility_report_number="R" * 76)), hrm_schema),
        "the sending facility report number is too long",
    )


def test_row_16_result_status_is_signed(make_report, hrm_schema):
    assert hrm_file_read(report_build(make_report())).result_status == "S"
    for status in ("P", "C"):
        assert mentions(
            problems_of(report_build(make_report(result_status=status)), hrm_schema),
            "the result status must be 'S'",
        )
    missing = mutate(report_build(make_report()), remove(f"{RR}/cds:ResultStatus"))
    assert mentions(problems_of(missing, hrm_schema), "the result status is missing")


@pytest.mark.parametrize("good", ["11488-4^Consult note", "Consult note", "^108 Office Progress"])
def test_row_17_subclass_accepted(make_report, hrm_schema, good):
    xml = report_build(make_report(subclass=good))
    report_validate(xml, hrm_schema)
    assert hrm_file_read(xml).subclass == good


def test_row_17_subclass_refused(make_report, hrm_schema):
    for bad in ("11488-4^", "a^b^c", "^"):
        problems = problems_of(report_build(make_report(subclass=bad)), hrm_schema)
        assert mentions(problems, "must be plain text or code^description")
    assert mentions(
        problems_of(report_build(make_report(subclass="s" * 61)), hrm_schema),
        "the report subclass is too long",
    )
    empty = mutate(report_build(make_report()), set_text(f"{RR}/cds:SubClass", ""))
    assert mentions(problems_of(empty, hrm_schema), "the report subclass is empty")
    without = report_build(make_report(subclass=""))
    report_validate(without, hrm_schema)
    assert b"SubClass" not in without


def test_row_18_one_letter_to_n_recipients_differs_only_in_transaction_information(make_report):
    recipients = [("D12345", "Raj", "Patel"), ("N1234567", "Ann", "Wong"), ("D777", "Li", "Chen")]
    files = [
        report_build(
            make_report(
                recipient={"professional_id": pid, "first_name": first, "last_name": last},
                transaction_id=f"MSG-42-TEXT-{pid}",
            )
        )
        for pid, first, last in recipients
    ]
    # OSCAR's hash (b): the text with <TransactionInformation>...</...> blanked, line by line.
    blank_transaction = re.compile(rb"<TransactionInformation>.*?</TransactionInformation>")
    assert len({blank_transaction.sub(b"", xml) for xml in files}) == 1
    assert len(set(files)) == 3
    # OSCAR's hash (a): a re-send to the same recipient under another ID is a duplicate.
    again = report_build(make_report(transaction_id="MSG-42-TEXT-D12345-again"))
    blank_id = re.compile(rb"<MessageUniqueID>.*?</MessageUniqueID>")
    assert blank_id.sub(b"", again) == blank_id.sub(b"", files[0])
    assert again != files[0]


@pytest.mark.parametrize(
    "path",
    [
        f"{DEMO}/cds:Names/cdsd:LegalName/cdsd:FirstName/cdsd:Part",
        f"{DEMO}/cds:HealthCard/cdsd:ProvinceCode",
        f"{DEMO}/cds:UniqueVendorIdSequence",
        f"{DEMO}/cds:PersonStatusCode",
        f"{RR}/cds:FileExtensionAndVersion",
        f"{RR}/cds:Content/cdsd:TextContent",
        f"{RR}/cds:SendingFacilityReportNumber",
        f"{RR}/cds:AuthorPhysician/cdsd:LastName",
        f"{TI}/cds:MessageUniqueID",
        f"{TI}/cds:DeliverToUserID",
        f"{TI}/cds:Provider/cdsd:LastName",
    ],
)
def test_row_21_no_element_present_but_empty(make_report, hrm_schema, path):
    # Open-O's HRMXmlValidator refuses a file with a required element present but empty.
    xml = mutate(report_build(make_report()), set_text(path, "  "))
    problems = problems_of(xml, hrm_schema)
    assert any(words in problem for problem in problems for words in ("empty", "missing", "must"))


def test_row_21_every_element_of_a_built_file_has_content(make_report, make_pdf_report):
    for report in (make_report(), make_pdf_report()):
        root = etree.fromstring(report_build(report))
        leaves = [element for element in root.iter() if not len(element)]
        assert leaves and all((element.text or "").strip() for element in leaves)


def test_row_21_date_of_birth_from_1800_to_today(make_report, hrm_schema):
    today = datetime.now(UTC).date()
    for born in (date(1800, 1, 1), date(1931, 12, 31)):
        report_validate(report_build(make_report(patient={"date_of_birth": born})), hrm_schema)
    for born in (date(1799, 12, 31), today + timedelta(days=2), date(2999, 1, 1)):
        xml = report_build(make_report(patient={"date_of_birth": born}))
        assert mentions(problems_of(xml, hrm_schema), "must be between 1800 and today")
