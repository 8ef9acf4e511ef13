"""Forms for support staff's HRM pages in the admin. They only check what was typed; the rules
(who may be approved, what an import may remove) live in the services."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from directory.models import Site, User
from hrm.models import SenderApproval
from hrm.selectors.receivers import ReceiverListPreview

# OntarioMD's list is about 2 MB as CSV for 50,000 clinicians; anything far bigger is not it.
RECEIVER_LIST_MAX_BYTES = 20 * 1024 * 1024


class ReceiverListUploadForm(forms.Form):
    file = forms.FileField(
        label="Receiver list",
        help_text=(
            "OntarioMD's complete current list of approved HRM receivers, as CSV or Excel "
            "(.xlsx), with the columns Professional ID, First Name and Last Name (Licence Type "
            "when IDs are bare numbers). Nothing changes until you confirm the preview."
        ),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > RECEIVER_LIST_MAX_BYTES:
            raise forms.ValidationError(
                f"“{file.name}” is {file.size / 1024 / 1024:.0f} MB; a receiver list is at most "
                f"{RECEIVER_LIST_MAX_BYTES // 1024 // 1024} MB."
            )
        return file


class ReceiverImportConfirmForm(forms.Form):
    """Confirms one preview: the fingerprint ties the confirmation to exactly what was shown."""

    fingerprint = forms.CharField(widget=forms.HiddenInput)
    allow_mass_removal = forms.BooleanField(required=False)

    def __init__(self, *args, preview: ReceiverListPreview, **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = preview
        self.fields["fingerprint"].initial = preview.fingerprint
        if preview.is_mass_removal:
            self.fields["allow_mass_removal"].label = (
                f"Yes, remove {preview.diff.removed_count} of the {preview.active_count} active "
                f"receivers ({preview.removed_percent} %): I checked that this file is "
                "OntarioMD's complete current list."
            )
        else:
            del self.fields["allow_mass_removal"]

    def clean(self):
        cleaned = super().clean()
        if self.preview.is_mass_removal and not cleaned.get("allow_mass_removal"):
            self.add_error(
                "allow_mass_removal",
                "This import removes more than 10 % of the active receivers: tick the box to "
                "confirm, or discard the upload if the file is wrong.",
            )
        return cleaned


class SenderDecisionForm(forms.Form):
    DECISIONS = {"approve", "reject", "revoke"}

    decision = forms.ChoiceField(choices=[(d, d) for d in sorted(DECISIONS)])
    note = forms.CharField(
        label="Note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Required to reject: the clinician is emailed it.",
    )


class SenderApprovalEntryForm(forms.Form):
    """Support enters a UPI a clinician sent them, approved for one of the clinician's sites."""

    user = forms.ModelChoiceField(
        queryset=User.objects.all(),
        label="Clinician",
        widget=AutocompleteSelect(SenderApproval._meta.get_field("user"), admin.site),
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.all(),
        label="Site",
        widget=AutocompleteSelect(SenderApproval._meta.get_field("site"), admin.site),
        help_text="A site the clinician belongs to; they will send HRM reports for it.",
    )
    upi = forms.CharField(label="UPI", max_length=32)
    replace_user_upi = forms.BooleanField(
        label="Replace the UPI on the clinician's account if it has a different one",
        required=False,
    )
    note = forms.CharField(
        label="Note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="For the record, e.g. how the UPI reached you.",
    )
