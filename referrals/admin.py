"""Support's view of referrals, messages, files and the event log. All of it is read-only:
a sent message, its files and the event log are the clinical record, changed only by the
clinicians' own actions (which log them); nobody edits, replaces or deletes them here, and every
record page opened here is written to the access trail."""

from django.contrib import admin

from directory.search_text import search_fold

from .access import Action, referral_access_record
from .models import (
    Attachment,
    ComposerToken,
    Message,
    Referral,
    ReferralEvent,
    ReferralOwnership,
    ReferrerAccessCode,
    ReviewMark,
)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccessLoggedAdminMixin:
    """Opening a record page is a look at the patient's information: it goes in the trail."""

    access_record_name = ""

    def access_referral(self, obj) -> Referral:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_view_or_change_permission(request, obj):
            referral_access_record(
                request,
                self.access_referral(obj),
                action=Action.VIEWED,
                record=self.access_record_name,
                object_id=obj.pk,
            )
        return super().change_view(request, object_id, form_url, extra_context)


class OwnershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReferralOwnership
    extra = 0
    readonly_fields = ["listing", "since"]


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReferralEvent
    extra = 0
    readonly_fields = ["kind", "actor", "actor_name", "description", "created_at"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, AccessLoggedAdminMixin, admin.ModelAdmin):
    access_record_name = "referral (admin)"
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

    def access_referral(self, obj):
        return obj


class AttachmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["original_name", "content_type", "size", "sha256", "created_at"]
    exclude = ["file"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, AccessLoggedAdminMixin, admin.ModelAdmin):
    access_record_name = "message (admin)"
    list_display = ["id", "referral", "author", "author_listing", "created_at"]
    list_filter = ["author_listing__site"]
    search_fields = ["text", "author__last_name", "=referral__id"]
    list_select_related = ["referral", "author", "author_listing"]
    raw_id_fields = ["referral", "author", "author_listing"]
    inlines = [AttachmentInline]
    date_hierarchy = "created_at"

    def access_referral(self, obj):
        return obj.referral


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, AccessLoggedAdminMixin, admin.ModelAdmin):
    access_record_name = "attachment (admin)"
    list_display = ["id", "original_name", "content_type", "size", "message", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["original_name", "sha256"]
    raw_id_fields = ["message"]
    # The stored file is never offered here: a replaced file would skip every upload check.
    exclude = ["file"]
    readonly_fields = ["message", "original_name", "sha256", "size", "content_type", "created_at"]

    def access_referral(self, obj):
        return obj.message.referral


@admin.register(ReferralEvent)
class ReferralEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["referral", "kind", "actor_name", "description", "created_at"]
    list_filter = ["kind"]
    search_fields = ["description", "actor_name", "=referral__id"]
    raw_id_fields = ["referral", "actor"]


@admin.register(ReferralOwnership)
class ReferralOwnershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["referral", "listing", "since"]
    list_filter = ["listing__site"]
    raw_id_fields = ["referral", "listing"]


@admin.register(ComposerToken)
class ComposerTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which composed message each used composer token posted (``referrals.composer``)."""

    list_display = ["message", "used_at"]
    raw_id_fields = ["message"]


@admin.register(ReferrerAccessCode)
class ReferrerAccessCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """When a referrer without an account asked for codes and used them: for support's
    questions ("I never got my code"). The code itself is never stored, only its hash, which is
    not shown."""

    list_display = ["referral", "created_at", "expires_at", "attempts", "used_at"]
    exclude = ["code_hash"]
    search_fields = ["=referral__id"]
    raw_id_fields = ["referral"]


@admin.register(ReviewMark)
class ReviewMarkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "referral", "reason", "created_at", "reviewed_at"]
    list_filter = ["reason"]
    search_fields = ["user__username", "=referral__id"]
    raw_id_fields = ["user", "referral", "message", "event"]
