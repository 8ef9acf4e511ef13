from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils import timezone

from security.admin_bases import BaseAdmin

from .forms import SupportUserChangeForm
from .models import Listing, ListingClinicianChange, Site, User
from .professional_id import professional_id_display, professional_id_normalise
from .services import (
    CLINICIAN_FIELDS,
    listing_clinician_change_decide,
    listing_clinician_set_by_support,
)


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
    form = SupportUserChangeForm
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
        (
            "Clinical Contact Information",
            {
                "fields": ["professional_id", "professional_id_verified_at", "sites"],
                "description": (
                    "One Professional ID belongs to one person. When two people claim one, "
                    "check the college's register, clear it from the account it is not, and "
                    "mark it verified on the other."
                ),
            },
        ),
    ]
    actions = ["professional_id_mark_verified"]

    @admin.action(
        description="Mark their Professional IDs verified (checked with the college's register)",
        permissions=["change"],
    )
    def professional_id_mark_verified(self, request, queryset):
        count = queryset.exclude(professional_id="").update(
            professional_id_verified_at=timezone.now()
        )
        self.message_user(request, f"{count} Professional ID(s) marked verified.")

    def save_model(self, request, obj, form, change):
        # A verification is of one ID: a changed ID is not verified until support says so again.
        changed = form.changed_data
        if change and "professional_id" in changed and "professional_id_verified_at" not in changed:
            obj.professional_id_verified_at = None
        super().save_model(request, obj, form, change)

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

    def save_model(self, request, obj, form, change):
        before = {field: form.initial.get(field, "") for field in CLINICIAN_FIELDS}
        super().save_model(request, obj, form, change)
        listing_clinician_set_by_support(listing=obj, actor=request.user, before=before)


@admin.register(ListingClinicianChange)
class ListingClinicianChangeAdmin(BaseAdmin):
    """Every change of a listing's clinician, and the ones waiting for support's approval."""

    list_display = ["listing", "before_text", "after_text", "status", "requested_by_name"]
    list_filter = ["status"]
    list_select_related = ["listing"]
    actions = ["approve", "reject"]
    readonly_fields = [
        field.name for field in ListingClinicianChange._meta.fields if field.name != "id"
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, *, approve: bool):
        for change in queryset:
            try:
                listing_clinician_change_decide(change=change, actor=request.user, approve=approve)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                verb = "approved" if approve else "rejected"
                self.message_user(request, f"Change of {change.listing}'s clinician {verb}.")

    @admin.action(description="Approve the selected changes of clinician", permissions=["change"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject the selected changes of clinician", permissions=["change"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)
