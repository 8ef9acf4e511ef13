"""Admin bases shared by hrm's rooms: records kept by a process of their own (a decision, an
import, a delivery) that support reads and never adds, changes or deletes."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from directory.professional_id import professional_id_normalise
from security.admin_bases import BaseAdmin


class RecordInline(admin.TabularInline):
    """Rows kept for the record, listed under their parent: nobody adds, changes or deletes
    them here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordAdmin(BaseAdmin):
    """Records kept by their own process: read, never written here."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def professional_id_search(search_term: str) -> str:
    """People search for "CPSO 12345"; the database holds "D12345"."""
    try:
        return professional_id_normalise(search_term)
    except ValidationError:
        return ""
