"""Support staff's forms for sender approvals. They only check what was typed; who may be
approved is the services' rule."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from directory.models import Site, User
from hrm.models import SenderApproval


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
