"""OntarioMD's list of approved HRM receivers: read the file support staff import and compare it
with the receivers we hold.

OntarioMD sends the *complete* current list, so a file with any bad row cannot be trusted as a
whole: ``receiver_list_parse`` either returns every receiver or raises ``ReceiverListError``
listing every problem as ``line N: reason``, where N is the line a person sees when opening the
file (the header is line 1; in a spreadsheet it is the row number). A quoted CSV field may span
several lines; its row is reported at the line where it starts, as a text editor shows it. A row
whose quoting is broken is one problem among the others: reading goes on at the next line.

Nothing here touches the database: the import view turns a ``ReceiverDiff`` into model changes.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import openpyxl
from django.core.exceptions import ValidationError

from directory.professional_id import professional_id_normalise

PROFESSIONAL_ID = "Professional ID"
FIRST_NAME = "First Name"
LAST_NAME = "Last Name"
LICENCE_TYPE = "Licence Type"
REQUIRED_COLUMNS = (PROFESSIONAL_ID, FIRST_NAME, LAST_NAME)

# Header cells are matched on letters and digits only, case-folded, so "Professional ID",
# "professional_id" and "PROFESSIONAL-ID" are the same column. Both Canadian and US spellings
# of "licence" turn up in exports.
_COLUMN_BY_KEY = {
    "professionalid": PROFESSIONAL_ID,
    "firstname": FIRST_NAME,
    "lastname": LAST_NAME,
    "licencetype": LICENCE_TYPE,
    "licensetype": LICENCE_TYPE,
}
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")

_XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx workbook is a zip archive
_PDF_MAGIC = b"%PDF-"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc) files
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Text files never hold C0 control bytes other than tab, CR and LF; binaries nearly always do.
# The same bytes mean the same controls in UTF-8 and Windows-1252, so this is checked before
# decoding.
_BINARY_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A complete multi-byte UTF-8 sequence. Found in a file that is not valid UTF-8 as a whole, it
# means UTF-8 and Windows-1252 are mixed, and decoding either way would garble accented names.
_UTF8_SEQUENCE = re.compile(
    rb"(?:[\xc2-\xdf]|[\xe0-\xef][\x80-\xbf]|[\xf0-\xf4][\x80-\xbf]{2})[\x80-\xbf]"
)
# A name holding a line break, tab or other control character would be sent as is into HRM.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# ``str(ReceiverListError)`` is for logs and messages; the full list stays in ``.problems``.
_PROBLEMS_IN_MESSAGE = 20


@dataclass(frozen=True, slots=True)
class ReceiverRow:
    """One receiver from the file: Professional ID in stored form (``D12345``), names trimmed."""

    professional_id: str
    first_name: str
    last_name: str
    line: int


class ReceiverListError(Exception):
    """The file cannot be imported. ``problems`` holds every ``line N: reason``, or one message
    about the file as a whole."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(self._message())

    def __reduce__(self):
        # Rebuild from the problems, not from the formatted message (e.g. across Celery).
        return (type(self), (self.problems,))

    def _message(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        shown = self.problems[:_PROBLEMS_IN_MESSAGE]
        text = f"The receiver list has {len(self.problems)} problems:\n" + "\n".join(shown)
        hidden = len(self.problems) - len(shown)
        if hidden:
            text += f"\n… and {hidden} more."
        return text


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where each column we read sits in a row; ``None`` for an absent optional column."""

    professional_id: int
    first_name: int
    last_name: int
    licence_type: int | None


# --- Parsing ---------------------------------------------------------------------------------


def receiver_list_parse(content: bytes, filename: str = "") -> list[ReceiverRow]:
    """Return every receiver in an OntarioMD receiver list (CSV or XLSX), one per Professional ID.

    Raises ``ReceiverListError`` when anything is wrong. A file with a header and no receivers
    returns ``[]``: it is a well-formed list, and the mass-removal guard decides whether to
    believe it.
    """
    label = f'"{filename}"' if filename else "The file"
    if content.startswith(_XLSX_MAGIC):
        records = _xlsx_records(content, label)
    else:
        records = _csv_records(_decode_text(content, label))
    return _receiver_rows(records, label)


def _decode_text(content: bytes, label: str) -> str:
    """Decode a CSV file, refusing anything that is not a text file in a supported encoding."""
    not_text = _not_text_reason(content)
    if not_text:
        raise ReceiverListError([f"{label} {not_text}"])
    if content.startswith(_UTF8_BOM):
        try:
            return content[len(_UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError:
            raise ReceiverListError(
                [f"{label} starts as UTF-8 but is not valid UTF-8. Save it again as CSV UTF-8."]
            ) from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Excel's plain "CSV" is Windows-1252; accept it unless UTF-8 is mixed in.
    if _UTF8_SEQUENCE.search(content):
        raise ReceiverListError(
            [
                f"{label} mixes UTF-8 and Windows-1252 text, so accented names would come out "
                "garbled. Save it again as CSV UTF-8."
            ]
        )
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        raise ReceiverListError(
            [f"{label} is not a CSV or Excel (.xlsx) file: its text is not UTF-8 or Windows-1252."]
        ) from None


def _not_text_reason(content: bytes) -> str:
    """Say what a file is when it is clearly not a CSV, so support staff know what to re-save."""
    if _PDF_MAGIC in content[:1024]:
        return "is a PDF. Import the receiver list as a CSV or Excel (.xlsx) file."
    if content.startswith(_OLE2_MAGIC):
        return (
            "is an old-style Excel (.xls) or other Office file. Save it as an Excel Workbook "
            "(.xlsx) or as CSV UTF-8 and import that."
        )
    if content.startswith(_UTF16_BOMS):
        return 'is saved as UTF-16 ("Unicode Text"). Save it as CSV UTF-8 and import that.'
    if _BINARY_BYTE.search(content):
        return "is not a CSV or Excel (.xlsx) file: it holds binary data."
    return ""


@dataclass(frozen=True, slots=True)
class _BrokenRow:
    """A CSV row that could not be read, in place of its cells."""

    reason: str


_UNCLOSED_QUOTE = "the CSV quoting is broken: a quote opens a field here and never closes it."


def _csv_records(text: str) -> Iterator[tuple[int, list[str] | _BrokenRow]]:
    """Yield ``(line, cells)`` for each CSV record, ``line`` being where the record starts.

    A row with broken quoting is yielded as a ``_BrokenRow`` and reading goes on at the next
    line, so one pass reports every broken row, not only the first. A quoted field may hold line
    breaks (an address column, say), so a record running over several lines is kept when it has
    as many cells as the header; with any other count, the quote that opened it is taken as
    never closed, and the lines it swallowed are read again as rows of their own.
    """
    lines = _Lines(io.StringIO(text, newline="").readlines())
    delimiter = _csv_delimiter(text)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header_width = None
    while True:
        start = lines.position
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start + 1, _broken_row(lines.lines[start], error)
            lines.position = start + 1
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            continue
        if header_width is None:
            if not _is_blank(cells):
                header_width = len(cells)
        elif lines.position - start > 1 and len(cells) != header_width:
            yield start + 1, _BrokenRow(_UNCLOSED_QUOTE)
            lines.position = start + 1
            continue
        yield start + 1, cells


def _broken_row(line: str, error: csv.Error) -> _BrokenRow:
    # An odd number of quotes on the line where the row starts leaves a field open; with an
    # even number, every field closes and something follows a closing quote.
    if line.count('"') % 2:
        return _BrokenRow(_UNCLOSED_QUOTE)
    return _BrokenRow(
        "the CSV quoting is broken: a quoted field goes on after its closing quote "
        f'({error}). Inside a quoted field, a quote is written twice ("").'
    )


class _Lines:
    """The file's lines, handed one at a time to ``csv.reader``, from a position that is set
    back after a broken row."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.position = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _csv_delimiter(text: str) -> str:
    """Semicolon when the header row has more semicolons than commas (Excel in a French or
    European locale writes them), comma otherwise."""
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def _xlsx_records(content: bytes, label: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(row number, cells as text)`` for each row of the workbook's first worksheet."""
    unreadable = ReceiverListError(
        [f"{label} is a zip archive but not a readable Excel (.xlsx) workbook."]
    )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl fails in many ways on a damaged or non-Excel zip
        raise unreadable from error
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the row count stored in the file and stops there; some tools
        # store a wrong one, which would silently drop receivers.
        sheet.reset_dimensions()
        # Missing rows come back empty, so counting from 1 gives the spreadsheet's row numbers.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_cell_text(value) for value in values]
    except Exception as error:  # same: a corrupt worksheet can raise anything from the parser
        raise unreadable from error
    finally:
        workbook.close()


def _xlsx_cell_text(value: object) -> str:
    # Excel keeps every number as a float, so a Professional ID typed as 12345 may come back as
    # 12345.0; it means the registration number 12345.
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _receiver_rows(
    records: Iterable[tuple[int, list[str] | _BrokenRow]], label: str
) -> list[ReceiverRow]:
    """Check every row, merge exact duplicates, and raise with all problems if there are any."""
    records = iter(records)
    header = None
    for line, cells in records:
        if isinstance(cells, _BrokenRow):
            # Without its header row, no other line of the file can be checked.
            raise ReceiverListError([f"line {line}: {cells.reason}"])
        if not _is_blank(cells):
            header = line, cells
            break
    if header is None:
        raise ReceiverListError([f"{label} is empty: it has no header row and no receivers."])
    columns = _columns(*header, label=label)

    receivers: dict[str, ReceiverRow] = {}
    problems: list[str] = []
    for line, cells in records:
        if isinstance(cells, _BrokenRow):
            problems.append(f"line {line}: {cells.reason}")
            continue
        if _is_blank(cells):
            continue
        row, row_problems = _receiver_row(line, cells, columns)
        if row is None:
            problems.extend(row_problems)
            continue
        earlier = receivers.setdefault(row.professional_id, row)
        if earlier is not row and _names(earlier) != _names(row):
            problems.append(_conflict_problem(row, earlier))
    if problems:
        raise ReceiverListError(problems)
    return list(receivers.values())


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _columns(line: int, header: list[str], *, label: str) -> _Columns:
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        column = _COLUMN_BY_KEY.get(_NOT_LETTER_OR_DIGIT.sub("", cell.casefold()))
        if column is None:
            continue  # OntarioMD may add columns we do not need
        if column in positions:
            raise ReceiverListError(
                [f'{label} has more than one "{column}" column in its header row (line {line}).']
            )
        positions[column] = index
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        wanted = ", ".join(f'"{column}"' for column in missing)
        found = ", ".join(f'"{cell.strip()}"' for cell in header if cell.strip())
        raise ReceiverListError(
            [
                f"{label} is missing the {wanted} column{'s' if len(missing) > 1 else ''}: "
                f"its header row (line {line}) has {found}."
            ]
        )
    return _Columns(
        professional_id=positions[PROFESSIONAL_ID],
        first_name=positions[FIRST_NAME],
        last_name=positions[LAST_NAME],
        licence_type=positions.get(LICENCE_TYPE),
    )


def _receiver_row(
    line: int, cells: list[str], columns: _Columns
) -> tuple[ReceiverRow | None, list[str]]:
    """Return the row's receiver, or ``None`` and every problem found on it."""
    problems = []
    professional_id = _professional_id(line, cells, columns, problems)
    first_name = _name(line, _cell(cells, columns.first_name), FIRST_NAME, problems)
    last_name = _name(line, _cell(cells, columns.last_name), LAST_NAME, problems)
    if problems:
        return None, problems
    row = ReceiverRow(
        professional_id=professional_id, first_name=first_name, last_name=last_name, line=line
    )
    return row, problems


def _cell(cells: list[str], index: int | None) -> str:
    # Spreadsheets and hand-edited CSVs drop trailing empty cells, so rows can be short.
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _professional_id(line: int, cells: list[str], columns: _Columns, problems: list[str]) -> str:
    typed = _cell(cells, columns.professional_id)
    if not typed:
        problems.append(f"line {line}: {PROFESSIONAL_ID} is missing.")
        return ""
    try:
        return professional_id_normalise(typed, _cell(cells, columns.licence_type))
    except ValidationError as error:
        problems.append(f'line {line}: {PROFESSIONAL_ID} "{typed}": {error.messages[0]}')
        return ""


def _name(line: int, name: str, column: str, problems: list[str]) -> str:
    if not name:
        problems.append(f"line {line}: {column} is missing.")
    elif _CONTROL_CHARACTER.search(name):
        problems.append(f"line {line}: {column} contains a line break or other control character.")
    return name


def _names(row: ReceiverRow) -> tuple[str, str]:
    return row.first_name, row.last_name


def _conflict_problem(row: ReceiverRow, earlier: ReceiverRow) -> str:
    return (
        f"line {row.line}: {PROFESSIONAL_ID} {row.professional_id} is also on line {earlier.line} "
        f'with a different name ("{row.first_name} {row.last_name}" here, '
        f'"{earlier.first_name} {earlier.last_name}" on line {earlier.line}).'
    )
