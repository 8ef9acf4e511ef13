"""Limits on what people type, counted the way the receiving EMRs count.

HRM files carry names in fields the v1.1.2 schema limits (a patient's name part 50 characters, a
clinician's name 60), and the EMRs that validate them are Java programs: they count UTF-16 code
units, so a character outside Unicode's basic plane (many emoji, some CJK, mathematical letters)
counts twice. A limit enforced where the value is typed, counted that way, means nothing accepted
at entry fails later at delivery.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible

PATIENT_NAME_MAX = 50  # LegalName FirstName/LastName Part
CLINICIAN_NAME_MAX = 60  # Provider FirstName/LastName
# The author travels as HRM's caret name in one 60-character field, ``^Last^First^^^^``: six
# carets and both names.
AUTHOR_NAMES_MAX = 60 - 6
EARLIEST_BIRTH_DATE = datetime.date(1800, 1, 1)  # Open-O refuses earlier dates of birth
# A message's typed text: about eight printed pages, far more than a note or a letter's body, and
# small enough for every step and every EMR (an HRM text report shows in one pane; OSCAR turns it
# into HTML as it is). Longer letters go as an attached file (a PDF), as Ocean's users send them.
MESSAGE_TEXT_MAX = 20_000


def utf16_length(text: str) -> int:
    """The length of ``text`` as Java (and so Open-O, OSCAR and Juno) counts it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _counted(text: str) -> str:
    return " ".join(text.split())


@deconstructible
class Utf16MaxLengthValidator:
    """At most ``limit`` characters as the EMRs count them, with a message that says so."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, value: str) -> None:
        length = utf16_length(_counted(value or ""))
        if length > self.limit:
            raise ValidationError(
                "At most %(limit)d characters, as the EMRs that receive HRM reports count them; "
                "this has %(length)d (some symbols and emoji count as two).",
                code="too_long_for_emr",
                params={"limit": self.limit, "length": length},
            )

    def __eq__(self, other):
        return isinstance(other, Utf16MaxLengthValidator) and other.limit == self.limit


# C0 and C1 controls, DEL, and the line and paragraph separators: a name is one line of visible
# text. A line break saved in a name breaks every email subject that carries it, and HRM's and the
# EMRs' one-line name fields.
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name_control_characters_refuse(value: str) -> None:
    """A name is one line of text: no line breaks, tabs or other control characters."""
    if value and _NAME_CONTROL.search(value):
        raise ValidationError(
            "A name is one line of text: remove the line break, tab or other invisible control "
            "character.",
            code="control_character_in_name",
        )


def message_text_validate(text: str) -> None:
    """A message's text fits ``MESSAGE_TEXT_MAX`` characters, as the EMRs count them. Checked
    before any other step reads the text, so an over-long paste is refused at once."""
    length = utf16_length(text or "")
    if length > MESSAGE_TEXT_MAX:
        raise ValidationError(
            "A message's text may have at most %(limit)s characters (about 8 pages); this has "
            "%(length)s. Attach longer letters as a file (a PDF) instead.",
            code="message_text_too_long",
            params={"limit": f"{MESSAGE_TEXT_MAX:,}", "length": f"{length:,}"},
        )


def clinician_name_validate(value: str) -> None:
    """A clinician's name travels inside HRM's caret-separated author name: no ``^`` in it."""
    if "^" in (value or ""):
        raise ValidationError(
            "A name cannot contain ^ (HRM uses it to separate the parts of a name).",
            code="caret_in_name",
        )


def author_names_validate(first_name: str, last_name: str) -> None:
    """First and last name together fit HRM's author field (``^Last^First^^^^``, 60 characters)."""
    length = utf16_length(_counted(first_name or "")) + utf16_length(_counted(last_name or ""))
    if length > AUTHOR_NAMES_MAX:
        raise ValidationError(
            "First and last name together may have at most %(limit)d characters, as the EMRs "
            "that receive HRM reports count them (they show the author from one 60-character "
            "field); these have %(length)d.",
            code="author_name_too_long",
            params={"limit": AUTHOR_NAMES_MAX, "length": length},
        )


def birth_date_validate(value: datetime.date) -> None:
    """A date of birth EMRs accept: from 1800 to today (Open-O refuses the others)."""
    if value is None:
        return
    if value < EARLIEST_BIRTH_DATE:
        raise ValidationError(
            "A date of birth before 1800 is not accepted by the EMRs that receive HRM reports.",
            code="birth_date_too_early",
        )
    if value > timezone.localdate():
        raise ValidationError("A date of birth cannot be in the future.", code="birth_date_future")
