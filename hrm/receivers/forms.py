"""Support staff's forms for importing OntarioMD's receiver list. They only check what was typed;
what an import may remove is the services' rule."""

from django import forms

from hrm.receivers.selectors import ReceiverListPreview

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
