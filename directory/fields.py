from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from .professional_id import (
    TYPED_MAX_LENGTH,
    professional_id_display,
    professional_id_entry_check,
    professional_id_normalise,
)


class ProfessionalIdFormField(forms.CharField):
    """Accepts what people type (``CPSO 12345``, ``D12345``), cleans to the stored form, and shows
    the stored form back the way people type it.

    The input takes up to ``TYPED_MAX_LENGTH`` characters whatever the stored form's length: the
    stored ``D24680`` is 6 characters, but people type ``CPSO 24680``."""

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = TYPED_MAX_LENGTH
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, str) and value[:1] in ("D", "N") and value[1:].isdigit():
            return professional_id_display(value)
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        stored = professional_id_normalise(value)
        professional_id_entry_check(stored)
        return stored


class ProfessionalIdField(models.CharField):
    description = "A CPSO (D + number) or CNO (N + number) registration number"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 9)
        kwargs.setdefault("verbose_name", "Professional ID")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == 9:
            del kwargs["max_length"]
        return name, path, args, kwargs

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return professional_id_normalise(value)
        except ValidationError:
            # Leave the value as typed; validate() reports the problem on the form.
            return value

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        if value:
            professional_id_entry_check(professional_id_normalise(value))

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": ProfessionalIdFormField, **kwargs})
