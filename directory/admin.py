from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from security.admin_bases import BaseAdmin

from .models import Listing, Site, User
from .professional_id import professional_id_display, professional_id_normalise


class ProfessionalIdSearchMixin:
    """IDs are shown as people read them (``CPSO 13579``) and found as people type them."""

    professional_id_field = "professional_id"

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        try:
            stored = professional_id_normalise(search_term)
        except ValidationError:
            return results, duplicates
        if stored:
            results = results | queryset.filter(**{self.professional_id_field: stored})
        return results, duplicates


@admin.register(Site)
class SiteAdmin(BaseAdmin):
    list_display = ["name", "kind", "notification_email", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "notification_email"]


@admin.register(User)
class UserAdmin(ProfessionalIdSearchMixin, BaseAdmin, DjangoUserAdmin):
    list_display = [
        "username",
        "first_name",
        "last_name",
        "email",
        "professional_id_shown",
        "is_staff",
    ]
    list_filter = ["is_staff", "is_active", "sites"]
    search_fields = ["username", "first_name", "last_name", "email", "professional_id"]
    filter_horizontal = ["sites", "groups", "user_permissions"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Clinical Contact Information", {"fields": ["professional_id", "sites"]}),
    ]

    @admin.display(description="Professional ID", ordering="professional_id")
    def professional_id_shown(self, user):
        return professional_id_display(user.professional_id)


@admin.register(Listing)
class ListingAdmin(ProfessionalIdSearchMixin, BaseAdmin):
    professional_id_field = "clinician_professional_id"

    list_display = [
        "name",
        "service",
        "site",
        "requires_sign_in",
        "clinician_surname",
        "professional_id_shown",
    ]
    list_filter = ["requires_sign_in", "site__kind", "site"]
    search_fields = [
        "name",
        "service",
        "site__name",
        "clinician_surname",
        "clinician_professional_id",
    ]
    list_select_related = ["site"]

    @admin.display(description="Professional ID", ordering="clinician_professional_id")
    def professional_id_shown(self, listing):
        return professional_id_display(listing.clinician_professional_id)
