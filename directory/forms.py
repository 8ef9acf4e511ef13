from django import forms
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError

from .models import Listing, User


def professional_id_refuse_taken(professional_id: str, user: User | None) -> None:
    """One Professional ID belongs to one person: HRM delivers to the EMR by it."""
    if not professional_id:
        return
    others = User.objects.filter(professional_id=professional_id)
    if user is not None and user.pk is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise ValidationError(
            "Another account already has this Professional ID. One Professional ID belongs to "
            "one person: check the number, or ask support to resolve it if it is yours.",
            code="professional_id_taken",
        )


class ClinicalContactForm(forms.ModelForm):
    class Meta:
        model = User
        # The UPI sits beside the Professional ID: HRM sending needs both.
        fields = ["first_name", "last_name", "email", "professional_id", "hrm_upi"]

    def clean_professional_id(self):
        professional_id = self.cleaned_data.get("professional_id", "")
        professional_id_refuse_taken(professional_id, self.instance)
        return professional_id

    def save(self, commit=True):
        # Support verified the ID the account had, not the one typed now.
        if "professional_id" in self.changed_data:
            self.instance.professional_id_verified_at = None
        return super().save(commit)


class SupportUserChangeForm(UserChangeForm):
    """The admin's account form: a Professional ID held by another account is refused on the
    field, naming that account so support can resolve it."""

    def clean_professional_id(self):
        professional_id = self.cleaned_data.get("professional_id", "")
        holder = (
            User.objects.filter(professional_id=professional_id)
            .exclude(pk=self.instance.pk)
            .first()
            if professional_id
            else None
        )
        if holder is not None:
            raise ValidationError(
                f"{holder} ({holder.username}) already has this Professional ID. One "
                "Professional ID belongs to one person: check the college's register and clear "
                "it from the account it is not.",
                code="professional_id_taken",
            )
        return professional_id


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
