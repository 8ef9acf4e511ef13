import pytest
from django.core.exceptions import ValidationError

from directory.health_card import health_card_display, health_card_normalise


@pytest.mark.parametrize(
    ("typed", "version", "expected"),
    [
        ("9876543217", "AB", ("9876543217", "AB")),
        ("9876-543-217-AB", "", ("9876543217", "AB")),
        ("9876 543 217 ab", "", ("9876543217", "AB")),
        ("9876543217", "", ("9876543217", "")),
    ],
)
def test_it_keeps_ten_digits_and_the_version_apart(typed, version, expected):
    assert health_card_normalise(typed, version) == expected


def test_it_refuses_the_wrong_length():
    with pytest.raises(ValidationError, match="must be 10 digits"):
        health_card_normalise("987654321")


def test_it_refuses_a_bad_check_digit():
    with pytest.raises(ValidationError, match="not valid"):
        health_card_normalise("9876543210")


def test_it_refuses_a_long_version_code():
    with pytest.raises(ValidationError, match="at most two letters"):
        health_card_normalise("9876543217", "ABC")


def test_display():
    assert health_card_display("9876543217", "AB") == "9876-543-217-AB"
