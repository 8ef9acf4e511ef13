from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from directory.dates import IsoDateField
from directory.health_card import health_card_normalise


class ExportForm(forms.Form):
    start = IsoDateField(label="From")
    end = IsoDateField(label="To (included)")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            raise ValidationError("The end date is before the start date.")
        return cleaned


class PatientLookupForm(forms.Form):
    health_card = forms.CharField(label="Health card number", max_length=20, required=False)
    last_name = forms.CharField(label="Legal last name", max_length=100, required=False)
    birth_date = IsoDateField(label="Date of birth", required=False)

    def clean_health_card(self):
        number = self.cleaned_data["health_card"].strip()
        if not number:
            return ""
        try:
            return health_card_normalise(number)[0]
        except ValidationError:
            # Another province's number, kept as typed without spaces or dashes.
            return "".join(ch for ch in number if ch.isalnum()).upper()

    def clean(self):
        cleaned = super().clean()
        by_name = cleaned.get("last_name") and cleaned.get("birth_date")
        if not self.errors and not cleaned.get("health_card") and not by_name:
            raise ValidationError(
                "Give the health card number, or the legal last name and the date of birth."
            )
        if cleaned.get("birth_date") and cleaned["birth_date"] > timezone.localdate():
            self.add_error("birth_date", "A date of birth cannot be in the future.")
        return cleaned
