"""The sandbox EMR's reader (sandbox/reading.py): what an EMR reads from a file, and the files it
will not read at all. The product's own tests read what the builder wrote with it too."""

import re

import pytest

from sandbox.reading import MAX_FILE_BYTES, FileUnreadable, hrm_file_read

from .conftest import PDF, hrm_xml, sender_xml

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def test_it_reads_what_the_emrs_read_from_the_senders_file():
    read = hrm_file_read(sender_xml(recipient="N1234567"))
    assert (read.patient_first_name, read.patient_last_name) == ("Hélène", "Tremblay")
    assert (read.date_of_birth, read.sex) == ("1961-04-18", "F")
    assert (read.health_card_number, read.health_card_version) == ("9876543217", "AB")
    assert read.health_card_province == "CA-ON"
    assert read.author_last_name == "^Lee^François^^^^"
    assert read.deliver_to_user_id == "N1234567"
    assert (read.provider_first_name, read.provider_last_name) == ("Alice", "Nguyen")
    assert read.message_unique_id.endswith("-N1234567")
    assert (read.format, read.report_text, read.file_data) == (
        "Text",
        "Seen today.\nPlan: echo.",
        None,
    )


def test_an_attached_file_is_read_decoded():
    read = hrm_file_read(sender_xml(pdf=True))
    assert (read.format, read.file_extension, read.report_text) == ("Binary", ".pdf", None)
    assert read.file_data == PDF


def test_an_element_left_out_is_none_and_one_left_empty_is_empty():
    assert hrm_file_read(hrm_xml(result_status=None)).result_status is None
    assert hrm_file_read(hrm_xml(text="")).report_text == ""


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"this is not XML", "not well-formed XML"),
        (DECLARATION + b"<html/>", "not an HRM report (its root is not OmdCds in 'cds')"),
        (DECLARATION + b'<OmdCds xmlns="cds"><Oops/></OmdCds>', "does not follow the HRM schema"),
    ],
)
def test_a_file_that_is_no_hrm_report_is_unreadable_in_words(data, words):
    with pytest.raises(FileUnreadable, match=re.escape(words)):
        hrm_file_read(data)


def test_entities_and_doctypes_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE OmdCds [<!ENTITY s SYSTEM '
        f'"file://{secret}">]><OmdCds xmlns="cds"><PatientRecord>&s;</PatientRecord></OmdCds>'
    ).encode()
    with pytest.raises(FileUnreadable) as caught:
        hrm_file_read(xml)
    assert caught.value.words == "The file cannot be read: it carries a DOCTYPE declaration."
    assert "TOP SECRET" not in caught.value.words


def test_an_oversized_file_is_refused_before_parsing():
    huge = DECLARATION + b"<OmdCds>" + b" " * MAX_FILE_BYTES + b"</OmdCds>"
    with pytest.raises(FileUnreadable, match="the sandbox reads at most 33,554,432"):
        hrm_file_read(huge)
