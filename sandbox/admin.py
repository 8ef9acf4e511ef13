"""The sandbox EMR's tables in the admin. Providers and charts may be edited (an EMR's staff keep
them, and editing a chart is how to show an unmatched report); documents and the retrieval log
are what arrived, so they are shown, never changed here."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from security.admin_bases import BaseAdmin

from .models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog, EmrSendingFacility


class _ViewOnlyAdmin(BaseAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EmrProvider)
class EmrProviderAdmin(BaseAdmin):
    list_display = ["professional_id", "last_name", "first_name", "created_at"]
    search_fields = ["professional_id", "first_name", "last_name"]


@admin.register(EmrPatient)
class EmrPatientAdmin(BaseAdmin):
    list_display = [
        "last_name",
        "first_name",
        "sex",
        "date_of_birth",
        "health_card_number",
        "health_card_version",
        "province",
    ]
    list_filter = ["sex", "province"]
    search_fields = ["last_name", "first_name", "health_card_number"]


@admin.register(EmrSendingFacility)
class EmrSendingFacilityAdmin(BaseAdmin):
    """Open-O's registry: the clinic's administrator registers a Sending Facility here."""

    list_display = ["facility_id", "name", "registered_at"]
    search_fields = ["facility_id", "name"]


@admin.register(EmrDocument)
class EmrDocumentAdmin(_ViewOnlyAdmin):
    list_display = [
        "received_at",
        "emr_profile",
        "report_class",
        "format",
        "patient_display",
        "linked",
        "hidden",
        "provider",
        "unmatched_provider_id",
        "duplicate_count",
        "message_unique_id",
    ]
    list_filter = [
        "emr_profile",
        "format",
        "report_class",
        ("similar_to", admin.EmptyFieldListFilter),
        ("provider", admin.EmptyFieldListFilter),
        ("patient", admin.EmptyFieldListFilter),
    ]
    search_fields = [
        "message_unique_id",
        "patient_last_name",
        "patient_first_name",
        "patient_health_card_number",
        "deliver_to_user_id",
        "author_name",
    ]
    list_select_related = ["provider", "patient"]
    raw_id_fields = ["similar_to"]
    date_hierarchy = "received_at"
    exclude = ["raw_xml", "file_data"]
    readonly_fields = ["file_size", "xml_size"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw_xml", "file_data")

    @admin.display(description="Linked to a patient", boolean=True)
    def linked(self, document):
        return document.patient_id is not None

    @admin.display(description="Hidden as a prior version", boolean=True)
    def hidden(self, document):
        return document.is_hidden

    @admin.display(description="File size")
    def file_size(self, document):
        data = EmrDocument.objects.values_list("file_data", flat=True).get(pk=document.pk)
        return filesizeformat(len(data)) if data is not None else "—"

    @admin.display(description="XML size")
    def xml_size(self, document):
        data = EmrDocument.objects.values_list("raw_xml", flat=True).get(pk=document.pk)
        return filesizeformat(len(data))


@admin.register(EmrRetrievalLog)
class EmrRetrievalLogAdmin(_ViewOnlyAdmin):
    list_display = [
        "retrieved_at",
        "file_name",
        "emr_profile",
        "outcome",
        "message_unique_id",
        "error",
        "detail",
    ]
    list_filter = ["emr_profile", "outcome"]
    search_fields = ["file_name", "message_unique_id", "error", "detail"]
    date_hierarchy = "retrieved_at"
    raw_id_fields = ["document"]
