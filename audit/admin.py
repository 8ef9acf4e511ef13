"""Support's view of the access trail: read-only for everyone, filtered by user, patient,
referral and date, exported by date range as CSV, and a patient-centred page answering "who
looked at this patient's record"."""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from security.admin_bases import BaseAdmin, list_detail

from .forms import ExportForm, PatientLookupForm
from .models import AccessEntry
from .selectors import access_entries_between, access_entries_for_patient, patient_readers
from .services import PatientShown, PatientSnapshot, access_record, access_record_each

CSV_COLUMNS = [
    ("at", "When"),
    ("actor_username", "Username"),
    ("actor_name", "Name"),
    ("action", "Action"),
    ("record", "Record"),
    ("referral_id", "Referral"),
    ("object_id", "Object"),
    ("patient_name", "Patient"),
    ("patient_birth_date", "Date of birth"),
    ("patient_health_card", "Health card"),
    ("detail", "Detail"),
    ("ip_address", "Address"),
    ("path", "Path"),
]


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is kept as text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@admin.register(AccessEntry)
class AccessEntryAdmin(BaseAdmin):
    list_display = [
        "at",
        "actor_username",
        "actor_name",
        "action",
        "record",
        "referral_id",
        "patient_name",
        "patient_health_card",
        "detail",
    ]
    list_filter = ["action", "record", "at"]
    # Patients are looked up on the patient page, by POST: a search box would put their names
    # in URLs, and so in web server logs.
    search_fields = ["actor_username", "actor_name", "=referral_id"]
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AccessEntry._meta.fields]
    # ?actor_username=…&referral_id=… filter the list exactly (links and bookmarks).
    offered_exact_lookups = ("actor_username", "referral_id")

    # The trail names patients: reading it is on the trail too, one entry per patient shown.
    @staticmethod
    def _patients(entries) -> list[PatientShown]:
        shown = {}
        for entry in entries:
            if entry.patient_name or entry.patient_health_card:
                key = (entry.referral_id, entry.patient_health_card, entry.patient_name)
                shown.setdefault(
                    key,
                    PatientShown(
                        entry.referral_id,
                        entry.pk,
                        PatientSnapshot(
                            name=entry.patient_name,
                            birth_date=entry.patient_birth_date,
                            health_card=entry.patient_health_card,
                        ),
                    ),
                )
        return list(shown.values())

    def list_shown(self, request, changelist):
        access_record_each(
            request,
            self._patients(changelist.result_list),
            action=AccessEntry.Action.SEARCHED if changelist.query else AccessEntry.Action.VIEWED,
            record="access entry list (admin)",
            detail=list_detail(changelist),
        )

    def record_shown(self, request, obj, page):
        access_record_each(
            request,
            self._patients([obj]),
            action=AccessEntry.Action.VIEWED,
            record=f"access entry{' history' if page == 'history' else ''} (admin)",
        )

    # Nobody, superusers included, adds, changes or deletes an entry.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="audit_accessentry_export",
            ),
            path(
                "patient/",
                self.admin_site.admin_view(self.patient_view),
                name="audit_accessentry_patient",
            ),
            *super().get_urls(),
        ]

    def _context(self, request, title, **context):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            **context,
        }

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            entries = access_entries_between(start, end)
            access_record(
                request,
                action=AccessEntry.Action.EXPORTED,
                record="access trail",
                detail=f"{start:%Y-%m-%d} to {end:%Y-%m-%d}",
            )
            writer = csv.writer(_Echo())

            def rows():
                yield writer.writerow([label for _, label in CSV_COLUMNS])
                for entry in entries.iterator(chunk_size=2000):
                    yield writer.writerow(
                        [_csv_cell(getattr(entry, name)) for name, _ in CSV_COLUMNS]
                    )

            response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="access-trail-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
            )
            return response
        return TemplateResponse(
            request,
            "admin/audit/accessentry/export.html",
            self._context(request, "Export the access trail", form=form),
        )

    def patient_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PatientLookupForm(request.POST or None)
        context = {"form": form}
        if request.method == "POST" and form.is_valid():
            entries = access_entries_for_patient(**form.cleaned_data)
            context["searched"] = True
            context["readers"] = patient_readers(entries)
            context["entries"] = list(entries[:500])
            context["entry_count"] = entries.count()
            health_card = form.cleaned_data["health_card"]
            # Looking up who saw a patient is itself a look at that patient.
            access_record(
                request,
                action=AccessEntry.Action.SEARCHED,
                record="access trail",
                patient=PatientSnapshot(
                    name=form.cleaned_data["last_name"],
                    birth_date=form.cleaned_data["birth_date"],
                    health_card=health_card,
                ),
                detail="who looked at this patient's record",
            )
        return TemplateResponse(
            request,
            "admin/audit/accessentry/patient.html",
            self._context(request, "Who looked at this patient's record", **context),
        )
