from django import forms

from .models import Listing, User


class ClinicalContactForm(forms.ModelForm):
    class Meta:
        model = User
        # The UPI sits beside the Professional ID: HRM sending needs both.
        fields = ["first_name", "last_name", "email", "professional_id", "hrm_upi"]


class ListingSettingsForm(forms.ModelForm):
    class Meta:
        model = Listing
        fields = [
            "notification_email",
            "requires_sign_in",
            "clinician_first_name",
            "clinician_surname",
            "clinician_professional_id",
        ]
