"""Professional IDs: a clinician's CPSO or CNO registration number.

Stored as HRM's ``DeliverToUserID`` wants it (``D`` + CPSO number, ``N`` + CNO number, upper-case,
no spaces, at most 9 characters) so nothing has to be fixed up at send time.

What a person types is also checked against the college's numbers (``professional_id_entry_check``):
a CPSO number has 5 or 6 digits and never starts with 0; a CNO number has exactly 7 digits, its
leading 0 included. The EMRs route on the exact string (OSCAR: no trimming, no leading-zero
normalisation, HRM-FORMAT.md section 8), so one number has one spelling: ``CPSO 012345`` is
refused rather than stored beside ``CPSO 12345``, and a CNO number's leading zero is part of it.
OntarioMD's receiver list is read with ``professional_id_normalise`` alone: it is the register.
"""

import re

from django.core.exceptions import ValidationError

CPSO = "CPSO"
CNO = "CNO"
PREFIX_BY_BODY = {CPSO: "D", CNO: "N"}
BODY_BY_PREFIX = {prefix: body for body, prefix in PREFIX_BY_BODY.items()}

STORED_PATTERN = re.compile(r"^[DN][0-9]{1,8}$")
# What people type: "CPSO 12345", "cpso12345", "CPSO #12345", "CPSO no. 12345", "D12345", "d 12345",
# "N 1234567", "CNO: 1234567", "CPSO 12-345". Spaces and dashes may also sit between the digits.
_TYPED_PATTERN = re.compile(
    r"^(?P<body>CPSO|CNO|D|N)?[\s#:.\-]*(?:(?:NO|NUMBER)\.?[\s#:.\-]*)?"
    r"(?P<number>[0-9](?:[\s\-]?[0-9])*)$"
)
# The longest form a person may type, for input fields: never cut what they type short (a browser
# silently drops what is typed past an input's maxlength, and "CPSO 24680" would become D2468).
TYPED_MAX_LENGTH = 32


def professional_id_normalise(value: str, licence_type: str = "") -> str:
    """Return the stored form (``D12345``) of what a person typed, or raise ``ValidationError``.

    ``licence_type`` (``CPSO`` or ``CNO``) says which college a bare number belongs to; a prefix
    typed in the value wins over nothing, and must agree with it when both are given.
    """
    text = (value or "").strip().upper()
    match = _TYPED_PATTERN.match(text) if len(text) <= TYPED_MAX_LENGTH else None
    if not match:
        raise ValidationError(
            "Enter a CPSO number (for example CPSO 12345 or D12345) or a CNO number "
            "(for example CNO 1234567 or N1234567): digits only, at most 8.",
            code="invalid_professional_id",
        )
    body = match["body"] or ""
    prefix = PREFIX_BY_BODY.get(body, body)
    licence = (licence_type or "").strip().upper()
    if licence and licence not in PREFIX_BY_BODY:
        raise ValidationError(
            f"Licence type must be CPSO or CNO, not {licence_type!r}.", code="invalid_licence_type"
        )
    if licence:
        if prefix and prefix != PREFIX_BY_BODY[licence]:
            raise ValidationError(
                f"{value!r} is not a {licence} number.", code="licence_type_mismatch"
            )
        prefix = PREFIX_BY_BODY[licence]
    if not prefix:
        raise ValidationError(
            "Say whether this is a CPSO or a CNO number, for example CPSO 12345 or CNO 1234567.",
            code="professional_id_needs_college",
        )
    number = re.sub(r"[\s\-]", "", match["number"])
    if len(number) > 8:
        raise ValidationError(
            f"{value.strip()!r} has {len(number)} digits; a CPSO or CNO number has at most 8.",
            code="invalid_professional_id",
        )
    if int(number) == 0:
        raise ValidationError(
            "A registration number cannot be zero.", code="invalid_professional_id"
        )
    return prefix + number


CPSO_DIGITS = (5, 6)
CNO_DIGITS = 7


def professional_id_entry_check(stored: str) -> None:
    """Raise ``ValidationError`` unless the stored ID (``D12345``) is a number its college issues:
    CPSO 5 or 6 digits with no leading zero, CNO exactly 7 digits (for example 123-4567)."""
    if not stored:
        return
    prefix, number = stored[0], stored[1:]
    if prefix == PREFIX_BY_BODY[CPSO]:
        if number.startswith("0"):
            raise ValidationError(
                f"A CPSO number never starts with 0: type CPSO {number.lstrip('0')}, as the "
                "college's register shows it.",
                code="professional_id_leading_zero",
            )
        if len(number) not in CPSO_DIGITS:
            raise ValidationError(
                f"A CPSO number has 5 or 6 digits; CPSO {number} has {len(number)}.",
                code="professional_id_length",
            )
    elif prefix == PREFIX_BY_BODY[CNO] and len(number) != CNO_DIGITS:
        raise ValidationError(
            f"A CNO number has 7 digits (for example CNO 123-4567); CNO {number} has "
            f"{len(number)}.",
            code="professional_id_length",
        )


def professional_id_display(stored: str) -> str:
    """``D12345`` -> ``CPSO 12345``: the form people type and read."""
    if not stored:
        return ""
    body = BODY_BY_PREFIX.get(stored[0])
    return f"{body} {stored[1:]}" if body else stored
