"""Text as HRM and the receiving EMRs can carry it: what XML 1.0 cannot hold is cleaned, never
escaped (``xml_text_clean``); ``emr_text_prepare`` also keeps typed text from acting as markup in
OSCAR and says what it changed."""

from __future__ import annotations

import html.entities
import re
import unicodedata
from datetime import datetime
from typing import NamedTuple

from hrm.reports.types import _EXTENSION_ALIASES, REPORT_TIME_ZONE

# Characters XML 1.0 forbids even as references (C0 controls other than tab, LF, CR; lone
# surrogates; U+FFFE/U+FFFF), plus DEL and the C1 controls, which XML allows but which are only ever
# debris from a bad copy and paste or a wrong encoding.
_UNCARRIABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# Line breaks in all their spellings. Word's manual line break is U+000B, a page break U+000C.
# (The character classes are searched first: scanning for a class is much faster than for the
# alternation, and most text has nothing to change.)
_ODD_LINE_BREAK = re.compile("[\r\x0b\x0c\x85\u2028\u2029]")
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_ANY_LINE_BREAK_OR_TAB = re.compile("[\r\n\t\x0b\x0c\x85\u2028\u2029]")
_LINE_BREAK_OR_TAB = re.compile("\r\n|[\r\n\t\x0b\x0c\x85\u2028\u2029]")


class CleanedText(NamedTuple):
    text: str
    removed: int  # characters dropped because XML 1.0 cannot carry them


def xml_text_clean(text: str, *, multiline: bool = False) -> CleanedText:
    """Return ``text`` as it travels in the file, and how many characters had to be dropped.

    Characters XML 1.0 cannot carry are **removed** (a replacement character would end up in the
    chart). Every line break (CRLF, CR, vertical tab, form feed, NEL, U+2028/9) becomes LF in
    multi-line text and a space in single-line fields (names, IDs), which are also trimmed. The
    result is in Unicode NFC so a decomposed "Hélène" still matches the chart's spelling. Markup
    such as ``<b>`` or ``&`` is left as literal text; the serialiser escapes it.
    """
    if text.isascii() and text.isprintable():  # most names and IDs: nothing to clean
        return CleanedText(text if multiline else text.strip(), 0)
    kept, removed = _UNCARRIABLE.subn("", text)
    if multiline:
        if _ODD_LINE_BREAK.search(kept):
            kept = _LINE_BREAK.sub("\n", kept)
    else:
        if _ANY_LINE_BREAK_OR_TAB.search(kept):
            kept = _LINE_BREAK_OR_TAB.sub(" ", kept)
        kept = kept.strip()
    return CleanedText(unicodedata.normalize("NFC", kept), removed)


def _line(text: str) -> str:
    return xml_text_clean(text).text


# OSCAR and Open-O print TextContent into their page without escaping it (HRM-FORMAT.md section 9):
# text that starts a tag (``<b``, ``</``, ``<!``, ``<?``) or a character reference (``&amp;``,
# ``&#60;``, ``&copy``) would act as markup there. An invisible WORD JOINER after the ``<`` or ``&``
# makes each one plain text for an HTML parser, so every EMR shows the characters as typed.
_MARKUP_GUARD = "\u2060"
# Names with their ";" (``&Tab;``), and the legacy ones browsers also read without it (``&amp``).
# Every name is letters and digits (and the ";"), so after a "&" only the run of letters and digits
# decides: it is markup when the whole run is a name with ";" and a ";" follows it, or when the run
# starts with a legacy name. One set lookup per run, at most a few per "&": linear in the text's
# length (an alternation of the ~2,200 names was tried at every "&", 40 times slower on "&&&").
_NAMES_WITH_SEMICOLON = frozenset(n[:-1] for n in html.entities.html5 if n.endswith(";"))
_LEGACY_NAMES = frozenset(n for n in html.entities.html5 if not n.endswith(";"))
_LEGACY_NAME_MAX = max(map(len, _LEGACY_NAMES))
_NAME_MAX = max(map(len, html.entities.html5))
_MARKUP_CANDIDATE = re.compile(
    r"<(?=[A-Za-z/!?])|&(?=#[0-9]|#[xX][0-9A-Fa-f]"
    rf"|(?P<name>[A-Za-z][A-Za-z0-9]{{0,{_NAME_MAX}}})(?P<semi>;?))"
)


def _is_markup(candidate: re.Match) -> bool:
    name = candidate["name"]
    if name is None:  # a tag's "<", or a numeric reference's "&#"
        return True
    if candidate["semi"] and name in _NAMES_WITH_SEMICOLON:
        return True
    return any(name[:end] in _LEGACY_NAMES for end in range(2, _LEGACY_NAME_MAX + 1))


def markup_present(text: str) -> bool:
    """Whether ``text`` holds markup a receiver would act on (a guarded one is not)."""
    return any(_is_markup(candidate) for candidate in _MARKUP_CANDIDATE.finditer(text))


def _markup_guard(text: str) -> tuple[str, int]:
    marked = 0

    def guard(candidate: re.Match) -> str:
        nonlocal marked
        if not _is_markup(candidate):
            return candidate[0]
        marked += 1
        return candidate[0] + _MARKUP_GUARD

    return _MARKUP_CANDIDATE.sub(guard, text), marked


class PreparedText(NamedTuple):
    text: str
    changes: tuple[str, ...]  # what was changed, in plain words for the author


def emr_text_prepare(text: str) -> PreparedText:
    """Typed text as every EMR should show it: ``xml_text_clean``ed, trimmed, and with markup-like
    sequences guarded so OSCAR shows them as typed. ``changes`` tells the author what changed;
    preparing prepared text changes nothing."""
    cleaned = xml_text_clean(text, multiline=True)
    guarded, marked = _markup_guard(cleaned.text)
    changes = []
    if cleaned.removed:
        changes.append(
            f"{cleaned.removed} invisible control character(s) that cannot be sent to EMRs "
            "were removed."
        )
    if marked:
        changes.append(
            f"{marked} place(s) where a < or & would have started formatting in an EMR got an "
            "invisible mark, so every EMR shows the text exactly as typed."
        )
    return PreparedText(_blank_edges_trim(guarded), tuple(changes))


# Blank lines before the first written line (a line of spaces counts as blank).
_LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")


def _blank_edges_trim(text: str) -> str:
    """Without blank lines before the text and whitespace after it; the first line keeps its
    indentation and inner blank lines stay (HRM-FORMAT.md section 9: text as typed)."""
    return _LEADING_BLANK_LINES.sub("", text.rstrip(), count=1)


def author_name_hrm(first_name: str, last_name: str) -> str:
    """The author as HRM writes it, an HL7 caret name in ``AuthorPhysician/LastName``:
    ``ID^LAST^FIRST^MIDDLE^SUFFIX^PREFIX^DEGREE`` with only the names filled, ``^Lee^Ann^^^^``.
    Open-O and Juno show an author only in that 7-part shape; a ``^`` inside a name would shift
    the parts, so it becomes a space."""
    first, last = (_line(name).replace("^", " ").strip() for name in (first_name, last_name))
    return f"^{last}^{first}^^^^"


def file_extension_normalise(value: str) -> str:
    """``"PDF"``, ``".Pdf"``, ``"letter.pdf"`` -> ``".pdf"``; ``.jpg`` -> ``.jpeg``, ``.tif`` ->
    ``.tiff``, the spellings of OntarioMD's data dictionary (``BINARY_FILE_EXTENSIONS``)."""
    text = _line(value).lower()
    extension = "." + text.rsplit(".", 1)[-1]
    return _EXTENSION_ALIASES.get(extension, extension)


def province_code(province: str) -> str:
    """``"ON"`` -> ``"CA-ON"``; full codes (``"CA-QC"``, ``"US-NY"``, ``"-50"``) pass through."""
    text = _line(province).upper()
    return f"CA-{text}" if re.fullmatch(r"[A-Z]{2}", text) else text


def event_datetime_text(moment: datetime) -> str:
    """An aware datetime as HRM writes it: Ontario local time, to the second, no offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("The report's event time must be timezone-aware (when it was sent).")
    local = moment.astimezone(REPORT_TIME_ZONE)
    return local.replace(tzinfo=None, microsecond=0).isoformat()
