"""OntarioMD receiver list: parsing CSV/XLSX files and comparing them with the active receivers.

Every sample file is generated here, so each test shows exactly the bytes it feeds in.
"""

import csv
import io
import pickle
import random
import re
import zipfile

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrm.receivers.list_diff import (
    ActiveReceiver,
    ReceiverChange,
    ReceiverDiff,
    is_mass_removal,
    names_match,
    receiver_list_diff,
)
from hrm.receivers.list_file import ReceiverListError, ReceiverRow, receiver_list_parse

HEADER = "Professional ID,First Name,Last Name\r\n"


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def xlsx_bytes(*rows: list, extra_sheets: int = 0) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for number in range(extra_sheets):
        workbook.create_sheet(f"Other {number}").append(["Professional ID", "First Name"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_of(content: bytes, filename: str = "") -> list[str]:
    with pytest.raises(ReceiverListError) as caught:
        receiver_list_parse(content, filename)
    return caught.value.problems


def row(professional_id: str, first: str, last: str, line: int) -> ReceiverRow:
    return ReceiverRow(professional_id=professional_id, first_name=first, last_name=last, line=line)


# --- CSV encodings and syntax ----------------------------------------------------------------


def test_plain_csv_gives_stored_ids_trimmed_names_and_line_numbers():
    content = csv_bytes(HEADER + "D12345,Ann,Smith\r\n  n 1234567 ,  Bo  , Li \r\n")

    assert receiver_list_parse(content, "receivers.csv") == [
        row("D12345", "Ann", "Smith", 2),
        row("N1234567", "Bo", "Li", 3),
    ]


def test_utf8_with_bom_matches_the_first_header_and_keeps_accents():
    content = csv_bytes(HEADER + "D12345,Hélène,Côté\n", "utf-8-sig")
    assert content.startswith(b"\xef\xbb\xbf")

    assert receiver_list_parse(content) == [row("D12345", "Hélène", "Côté", 2)]


def test_windows_1252_accented_names_are_decoded():
    content = csv_bytes(HEADER + "D12345,Hélène,Lefèvre-D’Amour\n", "cp1252")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")

    assert receiver_list_parse(content) == [row("D12345", "Hélène", "Lefèvre-D’Amour", 2)]


def test_utf8_and_windows_1252_mixed_in_one_file_is_refused_not_garbled():
    content = csv_bytes(HEADER + "D1,Hélène,Côté\n", "utf-8") + csv_bytes("D2,Zoé,Roy\n", "cp1252")

    [problem] = problems_of(content)

    assert "mixes UTF-8 and Windows-1252" in problem


def test_bom_followed_by_invalid_utf8_is_refused():
    content = b"\xef\xbb\xbf" + csv_bytes(HEADER + "D1,H\xe9l\xe8ne,Roy\n", "cp1252")

    [problem] = problems_of(content)

    assert "not valid UTF-8" in problem


def test_semicolon_delimiter_with_commas_inside_names():
    content = csv_bytes(
        "Professional ID;First Name;Last Name\nD12345;Ann;Smith, Jr\nN7;Bo;Li\n", "cp1252"
    )

    assert receiver_list_parse(content) == [
        row("D12345", "Ann", "Smith, Jr", 2),
        row("N7", "Bo", "Li", 3),
    ]


def test_quoted_fields_with_commas_quotes_and_newlines_keep_line_numbers_right():
    content = csv_bytes(
        "Professional ID,First Name,Last Name,Address\r\n"
        'D1,"Ann, Marie","O""Neil","12 Main St\r\nSuite 4\r\nToronto"\r\n'
        "D2,Bo,Li,\r\n"
        "D3,,Roy,\r\n"
    )

    assert problems_of(content) == ["line 6: First Name is missing."]
    content = content.replace(b"D3,,Roy", b"D3,Cy,Roy")
    assert receiver_list_parse(content) == [
        row("D1", "Ann, Marie", 'O"Neil', 2),
        row("D2", "Bo", "Li", 5),
        row("D3", "Cy", "Roy", 6),
    ]


def test_line_break_inside_a_name_is_a_problem_on_the_line_where_the_row_starts():
    content = csv_bytes(HEADER + 'D1,"Ann\nMarie",Smith\nD2,Bo,"Li\tWu"\n')

    assert problems_of(content) == [
        "line 2: First Name contains a line break or other control character.",
        "line 4: Last Name contains a line break or other control character.",
    ]


def test_unclosed_quote_is_refused_at_the_line_where_it_opens():
    content = csv_bytes(HEADER + "D1,Ann,Smith\n" + 'D2,"Bo,Li\nD3,Cy,Roy\n')

    [problem] = problems_of(content)

    assert problem.startswith("line 3: the CSV quoting is broken")


def test_text_after_a_closing_quote_is_refused():
    [problem] = problems_of(csv_bytes(HEADER + 'D1,"Ann"x,Smith\n'))

    assert problem.startswith("line 2: the CSV quoting is broken")


def test_every_broken_row_of_a_csv_is_reported_in_one_pass():
    content = csv_bytes(
        HEADER
        + 'D1,"Ann"x,Smith\n'  # line 2: text after a closing quote
        + "D2,Bo,Li\n"
        + 'D3,"Cy,Roy\n'  # line 4: a quote never closed, until line 6's quote
        + "nonsense,Di,Wu\n"  # line 5: a bad Professional ID
        + 'D6,"Ed",Fox\n'
        + "D7,,Gee\n"  # line 7: First Name missing
        + "D8\n"  # line 8: both names missing
        + 'D9,Flo,"Ng\n'  # line 9: a quote never closed, to the end of the file
        + "D10,Guy,Ho\n"
    )

    problems = problems_of(content)

    assert [problem.split(":")[0] for problem in problems] == [
        "line 2",
        "line 4",
        "line 5",
        "line 7",
        "line 8",
        "line 8",
        "line 9",
    ]
    assert problems[0].startswith(
        "line 2: the CSV quoting is broken: a quoted field goes on after its closing quote"
    )
    assert problems[1] == (
        "line 4: the CSV quoting is broken: a quote opens a field here and never closes it."
    )
    assert problems[2].startswith('line 5: Professional ID "nonsense": ')
    assert problems[3:6] == [
        "line 7: First Name is missing.",
        "line 8: First Name is missing.",
        "line 8: Last Name is missing.",
    ]
    assert problems[6].startswith("line 9: the CSV quoting is broken")


def test_fixing_every_reported_row_leaves_a_file_that_imports():
    content = csv_bytes(HEADER + 'D1,"Ann"x,Smith\nD2,Bo,Li\nD3,"Cy,Roy\nD4,Di,Wu\n')
    assert [problem.split(":")[0] for problem in problems_of(content)] == ["line 2", "line 4"]

    fixed = content.replace(b'"Ann"x', b'"Ann x"').replace(b'"Cy,Roy', b"Cy,Roy")

    assert receiver_list_parse(fixed) == [
        row("D1", "Ann x", "Smith", 2),
        row("D2", "Bo", "Li", 3),
        row("D3", "Cy", "Roy", 4),
        row("D4", "Di", "Wu", 5),
    ]


def test_broken_quoting_in_the_header_row_is_the_one_problem():
    [problem] = problems_of(csv_bytes('Professional ID,"First Name"x,Last Name\nD1,Ann,Smith\n'))

    assert problem.startswith("line 1: the CSV quoting is broken")


def test_every_bad_row_of_a_workbook_is_reported_in_one_pass():
    content = xlsx_bytes(
        ["Professional ID", "First Name", "Last Name"],
        ["D1", "Ann", "Smith"],
        ["nonsense", "Bo", "Li"],
        ["D3", None, "Roy"],
        [None, "Di", None],
        ["D5", 'Ed "Eddie', "Fox"],
    )

    problems = problems_of(content)

    assert problems[0].startswith('line 3: Professional ID "nonsense": ')
    assert problems[1:] == [
        "line 4: First Name is missing.",
        "line 5: Professional ID is missing.",
        "line 5: Last Name is missing.",
    ]


def test_old_mac_and_unix_line_endings_number_lines_the_same():
    for newline in ("\r", "\n", "\r\n"):
        text = newline.join(["Professional ID,First Name,Last Name", "D1,Ann,Smith", "", "D2,,Li"])

        assert problems_of(csv_bytes(text)) == ["line 4: First Name is missing."]


# --- Header ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Professional ID,First Name,Last Name,Licence Type",
        "professional_id,first_name,last_name,licence_type",
        "PROFESSIONAL-ID,FIRST-NAME,LAST-NAME,LICENSE-TYPE",
        ' Professional  ID ,First.Name,"Last Name",License Type',
        "Last Name,Licence Type,First Name,Professional ID",
    ],
)
def test_header_matching_ignores_case_spacing_punctuation_order_and_spelling(header):
    values = {"professionalid": "12345", "firstname": "Ann", "lastname": "Smith"}
    values["licencetype"] = values["licensetype"] = "CPSO"
    cells = [re.sub(r"[\W_]+", "", cell.lower()) for cell in header.split(",")]
    content = csv_bytes(header + "\n" + ",".join(values[cell] for cell in cells) + "\n")

    assert receiver_list_parse(content) == [row("D12345", "Ann", "Smith", 2)]


def test_other_columns_are_ignored():
    content = csv_bytes(
        "Site,Professional ID,Email,First Name,Last Name,Notes\n"
        "Toronto,D12345,ann@example.org,Ann,Smith,anything\n"
    )

    assert receiver_list_parse(content) == [row("D12345", "Ann", "Smith", 2)]


def test_missing_required_column_is_one_clear_problem():
    content = csv_bytes("Professional ID,Name\nD12345,Ann Smith\n")

    assert problems_of(content, "receivers.csv") == [
        '"receivers.csv" is missing the "First Name", "Last Name" columns: its header row '
        '(line 1) has "Professional ID", "Name".'
    ]


def test_tab_separated_file_is_reported_as_missing_columns():
    content = csv_bytes("Professional ID\tFirst Name\tLast Name\nD1\tAnn\tSmith\n")

    [problem] = problems_of(content)

    assert 'is missing the "Professional ID", "First Name", "Last Name" columns' in problem


def test_the_same_column_twice_is_refused():
    content = csv_bytes("Professional ID,First Name,Last Name,first_name\nD1,Ann,Smith,Anne\n")

    assert problems_of(content) == [
        'The file has more than one "First Name" column in its header row (line 1).'
    ]


def test_blank_lines_before_the_header_keep_their_line_numbers():
    content = csv_bytes("\n,,\n" + HEADER + "D1,Ann,\n")

    assert problems_of(content) == ["line 4: Last Name is missing."]


# --- Professional ID and Licence Type --------------------------------------------------------


def test_bare_digits_take_the_college_from_licence_type():
    content = csv_bytes(
        "Professional ID,Licence Type,First Name,Last Name\n"
        "12345,CPSO,Ann,Smith\n"
        "1234567, cno ,Bo,Li\n"
        "D777,,Cy,Roy\n"
    )

    assert receiver_list_parse(content) == [
        row("D12345", "Ann", "Smith", 2),
        row("N1234567", "Bo", "Li", 3),
        row("D777", "Cy", "Roy", 4),
    ]


def test_bare_digits_without_licence_type_are_a_problem():
    without_column = csv_bytes(HEADER + "12345,Ann,Smith\n")
    blank_licence = csv_bytes(
        "Professional ID,Licence Type,First Name,Last Name\n12345,,Ann,Smith\n"
    )

    for content in (without_column, blank_licence):
        [problem] = problems_of(content)
        assert problem.startswith('line 2: Professional ID "12345": Say whether this is a CPSO')


def test_prefix_that_contradicts_licence_type_is_a_problem():
    content = csv_bytes("Professional ID,Licence Type,First Name,Last Name\nD12345,CNO,Ann,Smith\n")

    assert problems_of(content) == [
        "line 2: Professional ID \"D12345\": 'D12345' is not a CNO number."
    ]


def test_unknown_licence_type_and_malformed_ids_are_problems():
    content = csv_bytes(
        "Professional ID,Licence Type,First Name,Last Name\n"
        "12345,MD,Ann,Smith\n"
        "D12-ab,,Bo,Li\n"
        "D0,,Cy,Roy\n"
        "D123456789,,Di,Wu\n"
    )

    problems = problems_of(content)

    assert [problem.split(":")[0] for problem in problems] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
    ]
    assert "Licence type must be CPSO or CNO" in problems[0]
    assert "Enter a CPSO number" in problems[1]
    assert "cannot be zero" in problems[2]
    assert "at most 8" in problems[3]


# --- Whole-file validation -------------------------------------------------------------------


def test_every_problem_is_listed_in_line_order():
    content = csv_bytes(
        HEADER + "D1,Ann,Smith\n" + ",Bo,Li\n" + "D3,,\n" + "nonsense,Cy,\n" + "D5,Di,Wu\n"
    )

    error = pytest.raises(ReceiverListError, receiver_list_parse, content).value

    assert error.problems[0] == "line 3: Professional ID is missing."
    assert error.problems[1:3] == [
        "line 4: First Name is missing.",
        "line 4: Last Name is missing.",
    ]
    assert error.problems[3].startswith('line 5: Professional ID "nonsense": Enter a CPSO')
    assert error.problems[4] == "line 5: Last Name is missing."
    assert len(error.problems) == 5
    assert str(error).startswith("The receiver list has 5 problems:\nline 3: ")
    assert all(problem in str(error) for problem in error.problems)


def test_same_id_twice_with_different_names_names_both_lines():
    content = csv_bytes(
        "Professional ID,Licence Type,First Name,Last Name\n"
        "D12345,,Ann,Smith\n"
        "D2,,Bo,Li\n"
        "12345,CPSO,Anne,Smith\n"
    )

    assert problems_of(content) == [
        'line 4: Professional ID D12345 is also on line 2 with a different name ("Anne Smith" '
        'here, "Ann Smith" on line 2).'
    ]


def test_a_difference_only_in_case_is_still_a_different_name():
    content = csv_bytes(HEADER + "D1,Ann,Smith\nD1,ann,smith\n")

    [problem] = problems_of(content)

    assert problem.startswith("line 3: Professional ID D1 is also on line 2")


def test_exact_duplicates_are_merged_into_the_first_line():
    content = csv_bytes(
        "Professional ID,Licence Type,First Name,Last Name,Site\n"
        "D12345,,Ann,Smith,Toronto\n"
        "N7,,Bo,Li,\n"
        "12345,CPSO, Ann ,Smith,Ottawa\n"
        "D12345,,Ann,Smith,Toronto\n"
    )

    assert receiver_list_parse(content) == [
        row("D12345", "Ann", "Smith", 2),
        row("N7", "Bo", "Li", 3),
    ]


def test_fully_blank_rows_are_skipped_but_counted():
    content = csv_bytes(HEADER + "\n , ,\n;;\nD1,Ann,Smith\n,,\n")

    problems = problems_of(content)

    # ";;" is not blank in a comma file: it is a row whose Professional ID is ";;".
    assert problems[0].startswith('line 4: Professional ID ";;"')
    assert receiver_list_parse(content.replace(b";;", b"")) == [row("D1", "Ann", "Smith", 5)]


def test_a_row_with_only_an_ignored_column_filled_is_not_blank():
    content = csv_bytes("Professional ID,First Name,Last Name,Notes\nD1,Ann,Smith,\n,,,Total: 1\n")

    assert problems_of(content) == [
        "line 3: Professional ID is missing.",
        "line 3: First Name is missing.",
        "line 3: Last Name is missing.",
    ]


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n  \n", b"\xef\xbb\xbf", b",,,\n , ,\n"])
def test_empty_file_is_one_clear_problem(content):
    assert problems_of(content, "receivers.csv") == [
        '"receivers.csv" is empty: it has no header row and no receivers.'
    ]


def test_header_only_file_is_a_valid_empty_list_that_the_mass_removal_guard_stops():
    # Decision: a header with no rows is well-formed, so it parses to []. Importing it would
    # remove every receiver, which is_mass_removal refuses whenever there are active receivers.
    rows = receiver_list_parse(csv_bytes(HEADER + "\n,,\n"))
    diff = receiver_list_diff(rows, {"D1": ("Ann", "Smith")})

    assert rows == []
    assert diff.summary() == "added=0 removed=1 changed=0 unchanged=0"
    assert is_mass_removal(diff, active_count=1)
    assert not is_mass_removal(receiver_list_diff(rows, {}), active_count=0)


# --- Files that are not CSV or XLSX ----------------------------------------------------------


def test_pdf_is_refused_by_content_whatever_its_name():
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"

    assert problems_of(pdf, "receivers.csv") == [
        '"receivers.csv" is a PDF. Import the receiver list as a CSV or Excel (.xlsx) file.'
    ]


def test_random_binary_is_refused():
    content = random.Random(20240601).randbytes(4096)

    assert problems_of(content, "receivers.csv") == [
        '"receivers.csv" is not a CSV or Excel (.xlsx) file: it holds binary data.'
    ]


def test_text_in_neither_utf8_nor_windows_1252_is_refused():
    # 0x81 is undefined in Windows-1252 and cannot start a UTF-8 character.
    [problem] = problems_of(csv_bytes(HEADER) + b"D1,\x81nn,Smith\n")

    assert problem == (
        "The file is not a CSV or Excel (.xlsx) file: its text is not UTF-8 or Windows-1252."
    )


def test_legacy_xls_and_utf16_text_get_a_hint_to_re_save():
    legacy_xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    utf16 = HEADER.encode("utf-16")

    [xls_problem] = problems_of(legacy_xls, "receivers.xls")
    [utf16_problem] = problems_of(utf16)

    assert xls_problem.startswith('"receivers.xls" is an old-style Excel (.xls)')
    assert "UTF-16" in utf16_problem


def test_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("receivers.csv", HEADER + "D1,Ann,Smith\n")
    truncated_workbook = xlsx_bytes(["Professional ID", "First Name", "Last Name"])[:300]

    for content in (buffer.getvalue(), truncated_workbook):
        assert problems_of(content, "receivers.xlsx") == [
            '"receivers.xlsx" is a zip archive but not a readable Excel (.xlsx) workbook.'
        ]


def test_content_not_the_filename_decides_between_csv_and_xlsx():
    workbook = xlsx_bytes(["Professional ID", "First Name", "Last Name"], ["D1", "Ann", "Smith"])
    text = csv_bytes(HEADER + "D1,Ann,Smith\n")

    assert receiver_list_parse(workbook, "receivers.csv") == [row("D1", "Ann", "Smith", 2)]
    assert receiver_list_parse(text, "receivers.xlsx") == [row("D1", "Ann", "Smith", 2)]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=2000).map(lambda tail: b"PK\x03\x04" + tail),
        st.text(max_size=300).map(lambda text: (HEADER + text).encode("utf-8")),
    )
)
def test_any_bytes_either_parse_or_raise_receiver_list_error(content):
    try:
        rows = receiver_list_parse(content)
    except ReceiverListError as error:
        assert error.problems
        assert all(isinstance(problem, str) and problem for problem in error.problems)
    else:
        assert len({parsed.professional_id for parsed in rows}) == len(rows)


# --- XLSX ------------------------------------------------------------------------------------


def test_xlsx_numeric_ids_become_digits_and_row_numbers_are_spreadsheet_rows():
    content = xlsx_bytes(
        ["Professional ID", "Licence Type", "First Name", "Last Name", "Start date"],
        [12345, "CPSO", "Hélène", "Côté", None],
        [1234567.0, "CNO", " Bo ", "Li", 45000],
        [None, None, None, None, None],
        ["D42", None, "Cy", "Roy"],
    )

    assert receiver_list_parse(content, "receivers.xlsx") == [
        row("D12345", "Hélène", "Côté", 2),
        row("N1234567", "Bo", "Li", 3),
        row("D42", "Cy", "Roy", 5),
    ]


def test_xlsx_ids_stored_as_floats_become_digits():
    # openpyxl writes 12345 as <v>12345</v>; other tools write 12345.0 or 1.2345E4, which
    # openpyxl reads back as a float.
    content = xlsx_bytes(
        ["Professional ID", "Licence Type", "First Name", "Last Name"],
        [12345, "CPSO", "Ann", "Smith"],
        [1234567, "CNO", "Bo", "Li"],
    )
    content = _rewrite_zip_member(
        content,
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b"<v>12345</v>", b"<v>12345.0</v>").replace(
            b"<v>1234567</v>", b"<v>1.234567E6</v>"
        ),
    )

    assert receiver_list_parse(content) == [
        row("D12345", "Ann", "Smith", 2),
        row("N1234567", "Bo", "Li", 3),
    ]


def test_xlsx_problems_use_spreadsheet_row_numbers():
    content = xlsx_bytes(
        ["professional_id", "first_name", "last_name", "licence_type"],
        [12345.5, "Ann", "Smith", "CPSO"],
        [],
        [],
        [777, "Bo", None],
    )

    problems = problems_of(content)

    assert problems[0].startswith('line 2: Professional ID "12345.5": Enter a CPSO number')
    assert problems[1].startswith('line 5: Professional ID "777": Say whether')
    assert problems[2] == "line 5: Last Name is missing."
    assert len(problems) == 3


def test_xlsx_reads_only_the_first_sheet():
    content = xlsx_bytes(
        ["Professional ID", "First Name", "Last Name"], ["D1", "Ann", "Smith"], extra_sheets=2
    )

    assert receiver_list_parse(content) == [row("D1", "Ann", "Smith", 2)]


def test_xlsx_rows_beyond_a_wrong_stored_dimension_are_still_read():
    # Some tools store a stale sheet size; openpyxl's read-only mode would stop there.
    content = xlsx_bytes(
        ["Professional ID", "First Name", "Last Name"],
        ["D1", "Ann", "Smith"],
        ["D2", "Bo", "Li"],
        ["D3", "Cy", "Roy"],
    )
    content = _rewrite_zip_member(
        content, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b'ref="A1:C4"', b'ref="A1:C2"')
    )

    assert [parsed.professional_id for parsed in receiver_list_parse(content)] == ["D1", "D2", "D3"]


def test_xlsx_header_only_and_empty_workbooks():
    assert receiver_list_parse(xlsx_bytes(["Professional ID", "First Name", "Last Name"])) == []
    assert problems_of(xlsx_bytes(), "receivers.xlsx") == [
        '"receivers.xlsx" is empty: it has no header row and no receivers.'
    ]


def test_xlsx_duplicates_across_int_and_text_ids():
    content = xlsx_bytes(
        ["Professional ID", "Licence Type", "First Name", "Last Name"],
        [12345, "CPSO", "Ann", "Smith"],
        ["D12345", None, "Ann", "Smith"],
        ["CPSO 12345", None, "Anne", "Smith"],
    )

    assert problems_of(content) == [
        'line 4: Professional ID D12345 is also on line 2 with a different name ("Anne Smith" '
        'here, "Ann Smith" on line 2).'
    ]


def _rewrite_zip_member(content: bytes, name: str, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == name:
                changed = change(data)
                assert changed != data, f"{name} was not rewritten"
                data = changed
            target.writestr(info.filename, data)
    return buffer.getvalue()


# --- Round trips -----------------------------------------------------------------------------

_NAME_CHARACTERS = st.characters(
    categories=("L", "M", "Nd", "Pd", "Po", "Ps", "Pe", "Zs"), exclude_characters="\u2028\u2029"
)
# Windows-1252 letters from 0xC0 up: never UTF-8 continuation bytes, so a file of them cannot be
# mistaken for UTF-8 (which is what Excel's plain CSV export gives for French names).
_CP1252_NAME_CHARACTERS = st.sampled_from("abcXYZ '-.,;\"éèêëÉÈàâçÇôöîïüùñÑ")


def _receivers(name_characters):
    name = st.text(name_characters, min_size=1, max_size=20).filter(lambda text: text.strip())
    receiver = st.tuples(st.sampled_from("DN"), st.integers(1, 99_999_999), name, name)
    return st.lists(receiver, max_size=30, unique_by=lambda item: (item[0], item[1]))


def _write_csv(receivers, delimiter: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["Professional ID", "First Name", "Last Name"])
    writer.writerows(
        [f"{prefix}{number}", first, last] for prefix, number, first, last in receivers
    )
    return buffer.getvalue()


def _expected(receivers) -> list[ReceiverRow]:
    return [
        row(f"{prefix}{number}", first.strip(), last.strip(), line)
        for line, (prefix, number, first, last) in enumerate(receivers, start=2)
    ]


@settings(max_examples=150, deadline=None)
@given(
    _receivers(_NAME_CHARACTERS),
    st.sampled_from([",", ";"]),
    st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_utf8_csv_round_trip(receivers, delimiter, encoding):
    content = _write_csv(receivers, delimiter).encode(encoding)

    assert receiver_list_parse(content) == _expected(receivers)


@settings(max_examples=100, deadline=None)
@given(_receivers(_CP1252_NAME_CHARACTERS), st.sampled_from([",", ";"]))
def test_windows_1252_csv_round_trip(receivers, delimiter):
    content = _write_csv(receivers, delimiter).encode("cp1252")

    assert receiver_list_parse(content) == _expected(receivers)


@settings(max_examples=25, deadline=None)
@given(_receivers(_NAME_CHARACTERS))
def test_xlsx_round_trip(receivers):
    content = xlsx_bytes(
        ["Professional ID", "First Name", "Last Name"],
        *[[f"{prefix}{number}", first, last] for prefix, number, first, last in receivers],
    )

    assert receiver_list_parse(content) == _expected(receivers)


# --- Diff ------------------------------------------------------------------------------------


def test_diff_sorts_receivers_into_added_removed_changed_unchanged():
    rows = [
        row("D1", "Ann", "Smith", 2),
        row("D2", "Bo", "Li", 3),
        row("N3", "Hélène", "Côté", 4),
        row("D4", "Cy", "Roy", 5),
    ]
    active = {
        "D9": ("Zed", "Gone"),
        "D2": ("  Bo ", "Li  "),  # stored with stray spaces: not a change
        "N3": ("Helene", "Côté"),  # OntarioMD added the accent: a change to record
        "D4": ("Cy", "ROY"),  # a change of case is a change too
        "D8": ("Yan", "Gone"),
    }

    diff = receiver_list_diff(rows, active)

    assert diff == ReceiverDiff(
        added=(rows[0],),
        removed=(
            ActiveReceiver(professional_id="D8", first_name="Yan", last_name="Gone"),
            ActiveReceiver(professional_id="D9", first_name="Zed", last_name="Gone"),
        ),
        changed=(
            ReceiverChange(row=rows[2], previous_first_name="Helene", previous_last_name="Côté"),
            ReceiverChange(row=rows[3], previous_first_name="Cy", previous_last_name="ROY"),
        ),
        unchanged=(rows[1],),
    )
    assert (diff.added_count, diff.removed_count, diff.changed_count, diff.unchanged_count) == (
        1,
        2,
        2,
        1,
    )
    assert [change.professional_id for change in diff.changed] == ["N3", "D4"]
    assert diff.summary() == "added=1 removed=2 changed=2 unchanged=1"


def test_diff_of_empty_inputs():
    diff = receiver_list_diff([], {})

    assert diff.summary() == "added=0 removed=0 changed=0 unchanged=0"


def test_diff_refuses_rows_with_a_repeated_professional_id():
    with pytest.raises(ValueError, match="D1"):
        receiver_list_diff([row("D1", "Ann", "Smith", 2), row("D1", "Ann", "Smith", 3)], {})


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from([f"D{n}" for n in range(1, 40)]), st.sampled_from("AB")),
    st.dictionaries(st.sampled_from([f"D{n}" for n in range(1, 40)]), st.sampled_from("AB")),
)
def test_diff_counts_account_for_every_row_and_every_active_receiver(listed, active_names):
    rows = [row(pid, name, "X", line) for line, (pid, name) in enumerate(listed.items(), start=2)]
    active = {pid: (name, "X") for pid, name in active_names.items()}

    diff = receiver_list_diff(rows, active)

    assert diff.added_count + diff.changed_count + diff.unchanged_count == len(rows)
    assert diff.removed_count + diff.changed_count + diff.unchanged_count == len(active)
    assert {r.professional_id for r in diff.added} == listed.keys() - active.keys()
    assert {r.professional_id for r in diff.removed} == active.keys() - listed.keys()
    assert {c.professional_id for c in diff.changed} == {
        pid for pid in listed.keys() & active.keys() if listed[pid] != active_names[pid]
    }


# --- Mass removal guard ----------------------------------------------------------------------


def _diff_removing(count: int) -> ReceiverDiff:
    active = {f"D{number}": ("Ann", "Smith") for number in range(1, count + 1)}
    return receiver_list_diff([], active)


def test_removing_exactly_ten_percent_is_allowed_and_one_more_is_refused():
    assert not is_mass_removal(_diff_removing(10), active_count=100)
    assert is_mass_removal(_diff_removing(11), active_count=100)
    assert not is_mass_removal(
        _diff_removing(3), active_count=30
    )  # 30 * 0.1 is not exact in floats
    assert is_mass_removal(_diff_removing(4), active_count=30)
    assert not is_mass_removal(_diff_removing(1), active_count=15)
    assert is_mass_removal(_diff_removing(2), active_count=15)


def test_no_active_receivers_means_no_mass_removal():
    first_import = receiver_list_diff([row("D1", "Ann", "Smith", 2)], {})

    assert not is_mass_removal(first_import, active_count=0)
    assert not is_mass_removal(_diff_removing(0), active_count=0)
    # The rule holds even if a caller's count and diff disagree.
    assert not is_mass_removal(_diff_removing(1), active_count=0)
    with pytest.raises(ValueError, match="active_count"):
        is_mass_removal(_diff_removing(0), active_count=-1)


def test_custom_threshold_and_its_bounds():
    assert not is_mass_removal(_diff_removing(50), active_count=100, threshold=0.5)
    assert is_mass_removal(_diff_removing(51), active_count=100, threshold=0.5)
    assert is_mass_removal(_diff_removing(1), active_count=100, threshold=0)
    # 100 * 0.29 is 28.999999999999996 in floats: removing 29 is exactly 29% and allowed.
    assert not is_mass_removal(_diff_removing(29), active_count=100, threshold=0.29)
    assert is_mass_removal(_diff_removing(30), active_count=100, threshold=0.29)
    for threshold in (-0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            is_mass_removal(_diff_removing(1), active_count=10, threshold=threshold)


@settings(max_examples=300)
@given(st.integers(1, 100_000), st.data())
def test_mass_removal_is_strictly_more_than_ten_percent(active_count, data):
    removed = data.draw(st.integers(0, min(active_count, active_count // 10 + 2)))
    diff = ReceiverDiff(
        added=(),
        removed=tuple(ActiveReceiver(f"D{n}", "A", "B") for n in range(removed)),
        changed=(),
        unchanged=(),
    )

    assert is_mass_removal(diff, active_count) == (removed * 10 > active_count)


# --- names_match -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Hélène", "Côté"), ("HELENE", "cote")),
        (("  Jean   Marc ", "Lefèvre"), ("jean marc", "LEFEVRE")),
        (("Zoë", "Ørsted-Ńowak"), ("zoe", "Ørsted-Nowak")),
        (("İsmail", "Straße"), ("ismail", "STRASSE")),
        (("Ａnn", "Smith"), ("Ann", "Smith")),  # full-width letters from NFKD
    ],
)
def test_names_match_ignores_case_accents_and_spacing(a, b):
    assert names_match(*a, *b)
    assert names_match(*b, *a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Ann", "Smith"), ("Anne", "Smith")),
        (("Ann", "Smith"), ("Smith", "Ann")),
        (("Jean Marc", "Roy"), ("JeanMarc", "Roy")),
        (("Ann", "Smith"), ("Ann", "")),
    ],
)
def test_names_match_still_tells_different_names_apart(a, b):
    assert not names_match(*a, *b)


# --- The error itself ------------------------------------------------------------------------


def test_error_message_is_readable_and_survives_pickling():
    problems = [f"line {line}: First Name is missing." for line in range(2, 32)]
    error = ReceiverListError(problems)

    message = str(error)
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made

    assert message.splitlines()[0] == "The receiver list has 30 problems:"
    assert message.splitlines()[1:21] == problems[:20]
    assert message.splitlines()[-1] == "… and 10 more."
    assert restored.problems == problems
    assert str(restored) == message
    assert str(ReceiverListError(["The file is empty."])) == "The file is empty."


# --- Size ------------------------------------------------------------------------------------


def test_fifty_thousand_row_csv_parses_and_diffs():
    # A list of the real list's size: its speed is bench/import_receivers.py's to measure.
    lines = [
        f"{number},{'CPSO' if number % 2 else 'CNO'},Hélène{number},Côté"
        for number in range(1, 50_001)
    ]
    content = ("Professional ID,Licence Type,First Name,Last Name\n" + "\n".join(lines)).encode()
    active = {f"D{number}": (f"Hélène{number}", "Côté") for number in range(1, 50_001, 2)}

    diff = receiver_list_diff(receiver_list_parse(content), active)

    assert diff.summary() == "added=25000 removed=0 changed=0 unchanged=25000"
