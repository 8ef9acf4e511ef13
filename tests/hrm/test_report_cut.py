"""A report is validated with its attached file's base64 cut to its head (``report_file_build``),
then written whole: the whole file is the validated one with the rest of the base64 in place,
and it passes every check the cut one passes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hrm.reports.build import report_build, report_file_build
from hrm.reports.reading import MAX_FILE_BYTES, ReportInvalid
from hrm.reports.types import ReportFile
from hrm.reports.validation import report_validate
from sandbox.reading import hrm_file_read

PDF = b"%PDF-1.7\n"
HEAD = 3072  # bytes of the file left in the validated form: 4,096 base64 characters


def media_text(xml: bytes) -> str:
    return etree.fromstring(xml).find(".//{cds_dt}Media").text or ""


@pytest.mark.parametrize(
    "size",
    [10, HEAD - 1, HEAD, HEAD + 1, HEAD + 2, HEAD + 3, 3 * 64 * 1024, 3 * 64 * 1024 + 1, 700_001],
)
def test_the_whole_file_is_the_checked_one_with_all_of_the_base64(
    make_pdf_report, hrm_schema, size
):
    data = (PDF + bytes(range(256)) * (size // 256 + 1))[:size]
    built = report_file_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    whole = built.whole()
    assert len(whole) == built.size
    assert media_text(whole) == base64.b64encode(data).decode()
    assert media_text(built.checked) == base64.b64encode(data[:HEAD]).decode()
    # Outside the Media text, byte for byte the file that was validated.
    head = base64.b64encode(data[:HEAD])
    cut = built.checked.index(b">" + head + b"<") + 1
    rest = built.checked[cut + len(head) :]
    assert whole == built.checked[:cut] + base64.b64encode(data) + rest
    report_validate(built.checked, hrm_schema)
    report_validate(whole, hrm_schema)
    assert hrm_file_read(whole).file_data == data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(min_size=0, max_size=9000))
def test_any_file_cut_or_not_validates_whole_and_reads_back(make_pdf_report, hrm_schema, body):
    data = PDF + body
    built = report_file_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    report_validate(built.checked, hrm_schema)
    whole = built.whole()
    assert whole == report_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    report_validate(whole, hrm_schema)
    assert hrm_file_read(whole).file_data == data


def test_a_file_that_is_not_what_its_name_says_is_caught_in_the_cut_form(
    make_pdf_report, hrm_schema
):
    data = b"GIF89a" + bytes(range(256)) * 100  # called .pdf
    built = report_file_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    assert built.data is not None  # cut
    with pytest.raises(ReportInvalid, match="content is not a PDF"):
        report_validate(built.checked, hrm_schema)


def test_the_whole_files_size_is_known_before_it_is_written(make_pdf_report):
    data = PDF + b"\0" * (MAX_FILE_BYTES // 4 * 3)  # base64 alone is over the limit
    built = report_file_build(make_pdf_report(content=ReportFile(data, ".pdf")))
    assert len(built.checked) < 10_000 and built.size > MAX_FILE_BYTES
