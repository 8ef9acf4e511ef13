"""Ontario health card numbers: 10 digits whose last digit is a Luhn check digit, plus a version
code of up to two letters kept apart (HRM and EMR patient matching compare the digits exactly)."""

import re

from django.core.exceptions import ValidationError

_TYPED = re.compile(r"^(?P<digits>[0-9][0-9\s\-]{8,14}[0-9])\s*-?\s*(?P<version>[A-Z]{0,2})$")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def health_card_normalise(number: str, version: str = "") -> tuple[str, str]:
    """Return ``(ten digits, version code)`` from what a person typed, or raise ``ValidationError``.

    Accepts ``1234-567-890-AB``, ``1234567890 AB`` or the digits and version apart.
    """
    text = (number or "").strip().upper()
    match = _TYPED.match(text)
    digits = re.sub(r"[\s\-]", "", match["digits"]) if match else re.sub(r"[\s\-]", "", text)
    typed_version = match["version"] if match else ""
    version = (version or "").strip().upper() or typed_version
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValidationError(
            "The patient's health card number must be 10 digits (the version code goes apart).",
            code="health_card_length",
        )
    if not _luhn_valid(digits):
        raise ValidationError(
            "The patient's health card number is not valid: please check the digits.",
            code="health_card_check_digit",
        )
    if not re.fullmatch(r"[A-Z]{0,2}", version):
        raise ValidationError(
            "The health card version code is at most two letters.", code="health_card_version"
        )
    return digits, version


def health_card_display(digits: str, version: str = "") -> str:
    if len(digits) != 10:
        return digits
    shown = f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    return f"{shown}-{version}" if version else shown
