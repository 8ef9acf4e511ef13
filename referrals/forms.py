import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from directory.dates import IsoDateField
from directory.health_card import health_card_normalise
from directory.models import Listing
from directory.text_limits import (
    MESSAGE_TEXT_MAX,
    PATIENT_NAME_MAX,
    Utf16MaxLengthValidator,
    birth_date_validate,
    message_text_validate,
    name_control_characters_refuse,
)

from .attachments import ALLOWED_TYPES_TEXT, attachment_inspect, upload_name_restore
from .channels import message_text_prepare
from .composer import TOKEN_MAX_LENGTH, composer_token_issue, composer_token_nonce
from .models import Referral


def _patient_name_field(label: str) -> forms.CharField:
    # No maxlength on the input: a browser would cut a long name silently; the validator says why.
    return forms.CharField(
        label=label,
        validators=[Utf16MaxLengthValidator(PATIENT_NAME_MAX), name_control_characters_refuse],
        # Django strips the ends; a line break typed inside is refused, never saved.
        help_text=f"As on the health card; at most {PATIENT_NAME_MAX} characters.",
    )


class PatientFieldsMixin(forms.Form):
    patient_first_name = _patient_name_field("Legal first name")
    patient_last_name = _patient_name_field("Legal last name")
    patient_birth_date = IsoDateField(label="Date of birth", validators=[birth_date_validate])
    # No sex chosen for the user: a pre-selected one is sent unread as often as not.
    patient_sex = forms.ChoiceField(
        label="Sex",
        choices=[("", "Choose…"), *Referral.Sex.choices],
        help_text="As on the health card.",
        error_messages={"required": "Choose the patient's sex, as on the health card."},
    )
    patient_health_card_number = forms.CharField(
        label="Health card number",
        max_length=20,
        help_text="10 digits, for example 1234-567-890",
    )
    patient_health_card_version = forms.CharField(
        label="Version code", max_length=2, required=False, help_text="Up to two letters."
    )
    patient_province = forms.ChoiceField(
        label="Province", choices=Referral.Province.choices, initial=Referral.Province.ON
    )
    # Bounded (issue 12): a referral's reason is a paragraph or two; letters go as files.
    reason = forms.CharField(
        label="Reason for referral",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="At most 5,000 characters; attach longer letters to a message.",
    )

    def clean(self):
        cleaned = super().clean()
        number = cleaned.get("patient_health_card_number")
        if number and cleaned.get("patient_province") == Referral.Province.ON:
            try:
                digits, version = health_card_normalise(
                    number, cleaned.get("patient_health_card_version", "")
                )
            except ValidationError as error:
                self.add_error("patient_health_card_number", error)
            else:
                cleaned["patient_health_card_number"] = digits
                cleaned["patient_health_card_version"] = version
        return cleaned


class ReferralForm(PatientFieldsMixin):
    """A signed-in user's referral, sent for one of their own listings."""

    referrer_listing = forms.ModelChoiceField(label="Referring as", queryset=Listing.objects.none())
    target_listing = forms.ModelChoiceField(
        label="Refer to", queryset=Listing.objects.select_related("site")
    )
    field_order = ["referrer_listing", "target_listing"]

    def __init__(self, *args, referrer_listings, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["referrer_listing"].queryset = referrer_listings


class PublicReferralForm(PatientFieldsMixin):
    """A referral from someone who is not signed in, to a listing that allows it."""

    referrer_name = forms.CharField(
        label="Your name", max_length=200, validators=[name_control_characters_refuse]
    )
    referrer_email = forms.EmailField(label="Your email")
    field_order = ["referrer_name", "referrer_email"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class ComposerTokenInput(forms.TextInput):
    """A text input the page hides, not ``type=hidden`` and not read-only: browsers restore such
    an input's value with the typed text on Back, a hidden or read-only one's never (with
    static/js/composer.js, see ``referrals.composer``)."""

    is_hidden = True

    def __init__(self):
        super().__init__(attrs={"hidden": True, "tabindex": "-1"})


class MessageForm(forms.Form):
    # First in the form: an upload stopped at a file too large still carries it.
    composer = forms.CharField(
        max_length=TOKEN_MAX_LENGTH, required=False, widget=ComposerTokenInput()
    )
    # The limit is checked before clean_text prepares the text (no maxlength: a browser would cut
    # a paste silently; the validator says why). Not stripped: typed text keeps its leading
    # indentation (HRM-FORMAT.md section 9).
    text = forms.CharField(
        label="Message",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        validators=[message_text_validate],
        help_text=f"At most {MESSAGE_TEXT_MAX:,} characters; attach longer letters as a file.",
    )
    files = MultipleFileField(
        label="Attach files",
        required=False,
        help_text=f"{ALLOWED_TYPES_TEXT}; at most 10 MB each and 50 MB per referral.",
        # An empty upload must reach our own check, which names the file.
        allow_empty_file=True,
    )

    def __init__(self, *args, user, referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.referral = user, referral
        if not self.is_bound:
            self.initial["composer"] = composer_token_issue(user, referral)

    def clean_composer(self):
        """The token's nonce, for ``services.message_post``."""
        try:
            return composer_token_nonce(
                self.cleaned_data.get("composer", ""), user=self.user, referral=self.referral
            )
        except ValidationError:
            # Shown with the other errors: a fresh token goes with the kept text.
            self.composer_renew()
            raise

    def composer_renew(self) -> None:
        """A fresh token in the page shown again, for text that is to go as a new message."""
        self.data = self.data.copy()
        self.data["composer"] = composer_token_issue(self.user, self.referral)

    def clean_text(self):
        # The thread shows exactly what the channels deliver: what one cannot carry (for HRM,
        # invisible control characters, usually pasted debris, or what an EMR would show as
        # markup) is changed here, and the author is told what (``text_changes``).
        prepared = message_text_prepare(self.cleaned_data.get("text", ""))
        self.text_changes = prepared.changes
        return prepared.text

    def clean_files(self):
        files = self.cleaned_data.get("files") or []
        for upload in files:
            upload.name = upload_name_restore(upload.name)
            try:
                attachment_inspect(upload)
            except ValidationError as error:
                self.add_error("files", error)
        return files

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("text", "").strip() and not cleaned.get("files"):
            raise ValidationError("Write a message or attach a file.", code="empty_message")
        return cleaned


class ForwardForm(forms.Form):
    to_listing = forms.ModelChoiceField(
        label="Forward to", queryset=Listing.objects.select_related("site")
    )

    def __init__(self, *args, referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_listing"].queryset = self.fields["to_listing"].queryset.exclude(
            pk=referral.target_listing_id
        )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Referral.Status.choices)
    reason = forms.CharField(label="Reason", required=False, max_length=2000)


class BookingForm(forms.Form):
    """The appointment a booking holds, typed as every page shows it: ``2027-01-15``, ``09:30``
    (a browser's date and time inputs follow its locale: ``01/15/2027``, ``9:30 AM``)."""

    appointment_date = IsoDateField(label="Appointment date")
    appointment_time = forms.TimeField(
        label="Time",
        input_formats=["%H:%M", "%H%M", "%H.%M", "%H h %M", "%Hh%M"],
        widget=forms.TimeInput(
            attrs={"placeholder": "hh:mm", "size": 5, "autocomplete": "off"}, format="%H:%M"
        ),
        help_text="24-hour clock, for example 14:30.",
        error_messages={"invalid": "Enter the time as hours:minutes, for example 14:30."},
    )

    def appointment_at(self):
        return timezone.make_aware(
            datetime.datetime.combine(
                self.cleaned_data["appointment_date"], self.cleaned_data["appointment_time"]
            )
        )


class StatusConfirmForm(forms.Form):
    """Declining (and cancelling) is confirmed on a page of its own, with the reason."""

    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to every stakeholder in the referral's messages (not in emails).",
    )

    def __init__(self, *args, reason_required=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required
        if reason_required:
            self.fields["reason"].error_messages["required"] = "Give the reason for declining."


class ReferrerCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the email",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
