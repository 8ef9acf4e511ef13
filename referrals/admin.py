from django.contrib import admin

from directory.search_text import search_fold

from .models import Attachment, Message, Referral, ReferralEvent, ReferralOwnership


class OwnershipInline(admin.TabularInline):
    model = ReferralOwnership
    extra = 0
    readonly_fields = ["since"]


class EventInline(admin.TabularInline):
    model = ReferralEvent
    extra = 0
    readonly_fields = ["kind", "actor", "actor_name", "description", "created_at"]
    can_delete = False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "patient_last_name",
        "patient_first_name",
        "status",
        "target_listing",
        "referrer_name",
        "referrer_signed_in",
        "created_at",
    ]
    list_filter = ["status", "referrer_signed_in", "patient_province", "target_listing__site"]
    search_fields = ["patient_search", "referrer_name", "=id"]
    list_select_related = ["target_listing"]

    def get_search_results(self, request, queryset, search_term):
        # Patients' names are searched folded: "cote" finds Côté (Referral.patient_search).
        return super().get_search_results(request, queryset, search_fold(search_term))

    readonly_fields = ["reference", "referrer_signed_in", "created_at", "updated_at"]
    raw_id_fields = ["referrer_user", "referrer_listing", "target_listing"]
    inlines = [OwnershipInline, EventInline]
    date_hierarchy = "created_at"


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["original_name", "content_type", "size", "sha256", "created_at"]
    exclude = ["file"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "referral", "author", "author_listing", "created_at"]
    list_filter = ["author_listing__site"]
    search_fields = ["text", "author__last_name", "=referral__id"]
    list_select_related = ["referral", "author", "author_listing"]
    raw_id_fields = ["referral", "author", "author_listing"]
    inlines = [AttachmentInline]
    date_hierarchy = "created_at"


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "content_type", "size", "message", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["original_name", "sha256"]
    raw_id_fields = ["message"]
    readonly_fields = ["sha256", "size", "content_type"]


@admin.register(ReferralEvent)
class ReferralEventAdmin(admin.ModelAdmin):
    list_display = ["referral", "kind", "actor_name", "description", "created_at"]
    list_filter = ["kind"]
    search_fields = ["description", "actor_name", "=referral__id"]
    raw_id_fields = ["referral", "actor"]


@admin.register(ReferralOwnership)
class ReferralOwnershipAdmin(admin.ModelAdmin):
    list_display = ["referral", "listing", "since"]
    list_filter = ["listing__site"]
    raw_id_fields = ["referral", "listing"]
