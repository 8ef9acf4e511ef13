import pytest
from django.core.exceptions import ValidationError

from directory.fields import ProfessionalIdFormField
from directory.professional_id import (
    professional_id_display,
    professional_id_entry_check,
    professional_id_normalise,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("CPSO 12345", "D12345"),
        ("cpso#12345", "D12345"),
        ("D12345", "D12345"),
        ("d 12345", "D12345"),
        ("  CNO: 1234567 ", "N1234567"),
        ("n1234567", "N1234567"),
        ("D12345678", "D12345678"),
    ],
)
def test_it_normalises_what_people_type(typed, stored):
    assert professional_id_normalise(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "X12345", "D", "D123456789", "CPSO 12a45", "D 0", "CPSO12345 extra", "D-12.345"],
)
def test_it_refuses_invalid_ids(typed):
    with pytest.raises(ValidationError):
        professional_id_normalise(typed)


def test_bare_digits_need_the_college():
    with pytest.raises(ValidationError, match="CPSO or a CNO"):
        professional_id_normalise("12345")
    assert professional_id_normalise("12345", licence_type="cpso") == "D12345"
    assert professional_id_normalise("1234567", licence_type="CNO") == "N1234567"


def test_prefix_and_licence_type_must_agree():
    with pytest.raises(ValidationError, match="not a CNO number"):
        professional_id_normalise("D12345", licence_type="CNO")


def test_it_shows_ids_the_way_people_type_them():
    assert professional_id_display("D12345") == "CPSO 12345"
    assert professional_id_display("N1234567") == "CNO 1234567"
    assert professional_id_display("") == ""


def test_form_field_cleans_and_shows_back():
    field = ProfessionalIdFormField(required=False)
    assert field.clean("cpso 12345") == "D12345"
    assert field.prepare_value("D12345") == "CPSO 12345"
    with pytest.raises(ValidationError):
        field.clean("12345")


# One number, one spelling: the college's lengths, and one rule for leading zeros
# (directory/professional_id.py): a CPSO number never starts with 0, a CNO number keeps its 0.
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("CPSO 12345", "D12345"),
        ("CPSO 123456", "D123456"),
        ("CNO 123-4567", "N1234567"),
        ("CNO 0512345", "N0512345"),
    ],
)
def test_form_field_takes_the_colleges_numbers(typed, stored):
    assert ProfessionalIdFormField(required=False).clean(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("CPSO 012345", "A CPSO number never starts with 0: type CPSO 12345"),
        ("D012345", "never starts with 0"),
        ("CPSO 2468", "A CPSO number has 5 or 6 digits; CPSO 2468 has 4."),
        ("CPSO 1234567", "has 7"),
        ("CNO 123456", "A CNO number has 7 digits (for example CNO 123-4567); CNO 123456 has 6."),
        ("CNO 12345678", "has 8"),
    ],
)
def test_form_field_refuses_numbers_the_college_does_not_issue(typed, message):
    with pytest.raises(ValidationError) as raised:
        ProfessionalIdFormField(required=False).clean(typed)
    assert message in raised.value.messages[0]


def test_entry_check_accepts_the_stored_forms_only_once():
    professional_id_entry_check("D12345")
    professional_id_entry_check("")
    with pytest.raises(ValidationError):
        professional_id_entry_check("D012345")
