from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Listing, Site, User


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "notification_email", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "notification_email"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "professional_id", "is_staff"]
    list_filter = ["is_staff", "is_active", "sites"]
    search_fields = ["username", "first_name", "last_name", "email", "professional_id"]
    filter_horizontal = ["sites", "groups", "user_permissions"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Clinical Contact Information", {"fields": ["professional_id", "sites"]}),
    ]


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "service",
        "site",
        "requires_sign_in",
        "clinician_surname",
        "clinician_professional_id",
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
