import pytest
from django.core.exceptions import ValidationError

from directory.fields import ProfessionalIdFormField
from directory.professional_id import professional_id_display, professional_id_normalise


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
