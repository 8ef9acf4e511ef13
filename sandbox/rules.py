"""The rules of OSCAR's HRM code, which Open-O and Juno grew out of (HRM-FORMAT.md sections 9 and
11), written for the sandbox from what the code does, not from what our sender promises. Each
EMR's own choices among them live in its module under ``sandbox.emrs``:

- what OSCAR drops for a missing field (``oscar_drops``);
- markup that OSCAR would interpret in a text report (``markup_found``);
- OSCAR's three hashes of the raw file and its similar-report score (``file_hashes``,
  ``similarity``), which Open-O inherited.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from dataclasses import dataclass

from .reading import HrmFile

OBSERVATION_CLASSES = ("Diagnostic Imaging Report", "Cardio Respiratory Report")
# What every HRM text report carries, and the only value Open-O accepts for one.
TEXT_EXTENSION = "From OMD Report Manager"


# --- Refusals -----------------------------------------------------------------------------------


def oscar_drops(hrm: HrmFile) -> list[str]:
    """OSCAR reads these before saving anything; a missing one throws and drops the report."""
    problems = []
    if not (hrm.report_class or "").strip():
        problems.append("it has no report class (ReportsReceived/Class)")
    if hrm.health_card_number is None or not hrm.health_card_number.strip():
        problems.append("it has no patient health card number (HealthCard/Number)")
    if hrm.report_class in OBSERVATION_CLASSES:
        if not hrm.observation_datetime:
            problems.append(
                f"a '{hrm.report_class}' has no observation date (OBRContent/ObservationDateTime)"
            )
    elif not hrm.event_datetime:
        problems.append("it has no report date (EventDateTime)")
    if hrm.deliver_to_user_id in ("", "D", "N"):
        problems.append(
            f"its DeliverToUserID '{hrm.deliver_to_user_id}' has no licence number to route on"
        )
    return problems


# --- The author ---------------------------------------------------------------------------------


def java_split(text: str, separator: str = "^") -> list[str]:
    """Java's ``String.split`` on a literal separator: trailing empty parts are dropped, so
    ``"^Lee^Fran^^^^"`` gives three parts, not seven."""
    if separator not in text:
        return [text]
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def author_as_written(hrm: HrmFile) -> str:
    if hrm.author_first_name is None and hrm.author_last_name is None:
        return ""
    return f"FirstName: {hrm.author_first_name!r}, LastName: {hrm.author_last_name!r}"


# --- Markup OSCAR would interpret ---------------------------------------------------------------

# OSCAR prints TextContent with newlines as <br /> and no escaping. A browser then reads a tag (a
# '<' followed by a letter, '/', '!' or '?') and character references; a lone '<' or '&' stays
# text. A few named references are read even without their ';'.
_MARKUP = re.compile(
    r"<[A-Za-z/!?][^<>\s]{0,30}"
    r"|&#[0-9]+;?|&#[xX][0-9A-Fa-f]+;?"
    r"|&[A-Za-z][A-Za-z0-9]{1,31};"
    r"|&(?:amp|lt|gt|quot|nbsp|copy|reg)(?![A-Za-z0-9;])"
)
_MARKUP_SHOWN = 5


def markup_found(text: str | None) -> str:
    """The markup in ``text`` that OSCAR would interpret as HTML, e.g. ``"<b, &amp;"``; ``""``
    when it would show the text as typed."""
    if not text:
        return ""
    seen: list[str] = []
    for match in _MARKUP.finditer(text):
        if match[0] not in seen:
            seen.append(match[0])
        if len(seen) == _MARKUP_SHOWN:
            break
    return ", ".join(seen)


# --- OSCAR's hashes and similar-report check ----------------------------------------------------

# Java's '.' does not cross any line terminator; the tags are literal and unprefixed, so a
# prefixed or indented file defeats the hashes (HRM-FORMAT.md 11.3).
_LINE = r"[^\n\r\u0085\u2028\u2029]"
_MESSAGE_ID = re.compile(f"<MessageUniqueID>{_LINE}*?</MessageUniqueID>")
_TRANSACTION = re.compile(f"<TransactionInformation>{_LINE}*?</TransactionInformation>")
_DEMOGRAPHICS = re.compile(f"<Demographics>{_LINE}*?</Demographics>")


@dataclass(frozen=True)
class FileHashes:
    report: str  # MessageUniqueID blanked: an exact duplicate
    less_transaction: str  # TransactionInformation blanked: the same report, another recipient
    less_demographics: str  # Demographics and MessageUniqueID blanked: another patient


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def file_hashes(text: str) -> FileHashes:
    no_message_id = _MESSAGE_ID.sub("<MessageUniqueID></MessageUniqueID>", text)
    return FileHashes(
        report=_md5(no_message_id),
        less_transaction=_md5(
            _TRANSACTION.sub("<TransactionInformation></TransactionInformation>", text)
        ),
        less_demographics=_md5(
            _MESSAGE_ID.sub(
                "<MessageUniqueID></MessageUniqueID>",
                _DEMOGRAPHICS.sub("<Demographics></Demographics", text),
            )
        ),
    )


def content_key(*, text: str | None, file_data: bytes | None) -> str:
    """What ``doSimilarReportCheck`` compares of a report's content, as a digest: the text, or
    the file's base64, ignoring case (Java's ``equalsIgnoreCase``)."""
    content = base64.b64encode(file_data).decode("ascii") if file_data is not None else text or ""
    return _md5(content.lower())


@dataclass(frozen=True)
class ReportForComparison:
    """What ``doSimilarReportCheck`` compares of one report."""

    content_key: str  # ``content_key``
    result_status: str | None
    report_class: str
    report_date: str


def _moment(value: str):
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return value


def _same_date(one: str, other: str) -> bool:
    first, second = _moment(one), _moment(other)
    try:
        return first == second
    except TypeError:  # an aware and a naive time: compare as written
        return one == other


@dataclass(frozen=True)
class Similarity:
    score: int
    words: str  # how the score was made, for the page

    @property
    def similar(self) -> bool:
        return self.score >= SIMILAR_AT


SIMILAR_AT = 45


def similarity(new: ReportForComparison, old: ReportForComparison) -> Similarity:
    """OSCAR's ``doSimilarReportCheck`` score: content equal +100 / different +10 (ignoring case);
    status equal (or absent in the new report) +5 / different +10; class +10 either way; report
    date equal +20 / different +5. At 45 or more the new report is filed under the older one."""
    same_content = new.content_key == old.content_key
    same_status = new.result_status is None or (
        new.result_status.lower() == (old.result_status or "").lower()
    )
    same_class = new.report_class.lower() == old.report_class.lower()
    same_date = _same_date(new.report_date, old.report_date)
    parts = [
        ("content equal", 100) if same_content else ("content different", 10),
        ("status equal", 5) if same_status else ("status different", 10),
        ("class equal", 10) if same_class else ("class different", 10),
        ("report date equal", 20) if same_date else ("report date different", 5),
    ]
    score = sum(points for _, points in parts)
    words = ", ".join(f"{label} +{points}" for label, points in parts) + f" = {score}"
    return Similarity(score, words)
