"""Support's view of referrals, messages, files and the event log. All of it is read-only:
a sent message, its files and the event log are the clinical record, changed only by the
clinicians' own actions (which log them); nobody edits, replaces or deletes them here, and every
list, record and history page shown here is written to the access trail."""

from django.contrib import admin

from audit.services import PatientShown, access_record_each
from directory.search_text import search_fold
from security.admin_bases import BaseAdmin, list_detail

from .access import Action, referral_patient_snapshot
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


class PatientAdmin(ReadOnlyAdminMixin, BaseAdmin):
    """Records that name a patient: every list, record and history page shown is written to
    the trail, one entry per patient shown, with what was searched and filtered."""

    def trail_referral_id(self, obj) -> int:
        raise NotImplementedError

    def trail_object_id(self, obj) -> int | None:
        return obj.pk

    def _patients(self, objects) -> list[PatientShown]:
        referral_ids = {self.trail_referral_id(obj) for obj in objects}
        referrals = Referral.objects.only(
            "patient_first_name",
            "patient_last_name",
            "patient_birth_date",
            "patient_health_card_number",
        ).in_bulk(referral_ids)
        shown, seen = [], set()
        for obj in objects:
            referral_id = self.trail_referral_id(obj)
            if referral_id in seen or referral_id not in referrals:
                continue
            seen.add(referral_id)
            snapshot = referral_patient_snapshot(referrals[referral_id])
            shown.append(PatientShown(referral_id, self.trail_object_id(obj), snapshot))
        return shown

    def list_shown(self, request, changelist):
        access_record_each(
            request,
            self._patients(list(changelist.result_list)),
            action=Action.SEARCHED if changelist.query else Action.VIEWED,
            record=f"{self.opts.verbose_name} list (admin)",
            detail=list_detail(changelist),
        )

    def record_shown(self, request, obj, page):
        access_record_each(
            request,
            self._patients([obj]),
            action=Action.VIEWED,
            record=f"{self.opts.verbose_name}{' history' if page == 'history' else ''} (admin)",
        )


class OwnershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReferralOwnership
    extra = 0
    readonly_fields = ["listing", "since"]


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReferralEvent
    extra = 0
    readonly_fields = ["kind", "actor", "actor_name", "description", "created_at"]


@admin.register(Referral)
class ReferralAdmin(PatientAdmin):
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

    def trail_referral_id(self, obj):
        return obj.pk


class AttachmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["original_name", "content_type", "size", "sha256", "created_at"]
    exclude = ["file"]


@admin.register(Message)
class MessageAdmin(PatientAdmin):
    list_display = ["id", "referral", "author", "author_listing", "created_at"]
    list_filter = ["author_listing__site"]
    search_fields = ["text", "author__last_name", "=referral__id"]
    list_select_related = ["referral", "author", "author_listing"]
    raw_id_fields = ["referral", "author", "author_listing"]
    inlines = [AttachmentInline]
    date_hierarchy = "created_at"

    def trail_referral_id(self, obj):
        return obj.referral_id


@admin.register(Attachment)
class AttachmentAdmin(PatientAdmin):
    list_display = ["id", "original_name", "content_type", "size", "message", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["original_name", "sha256"]
    raw_id_fields = ["message"]
    # The stored file is never offered here: a replaced file would skip every upload check.
    exclude = ["file"]
    readonly_fields = ["message", "original_name", "sha256", "size", "content_type", "created_at"]

    def trail_referral_id(self, obj):
        return obj.message.referral_id


@admin.register(ReferralEvent)
class ReferralEventAdmin(PatientAdmin):
    list_display = ["referral", "kind", "actor_name", "description", "created_at"]
    list_filter = ["kind"]
    search_fields = ["description", "actor_name", "=referral__id"]
    raw_id_fields = ["referral", "actor"]

    def trail_referral_id(self, obj):
        return obj.referral_id


@admin.register(ReferralOwnership)
class ReferralOwnershipAdmin(PatientAdmin):
    list_display = ["referral", "listing", "since"]
    list_filter = ["listing__site"]
    raw_id_fields = ["referral", "listing"]

    def trail_referral_id(self, obj):
        return obj.referral_id


@admin.register(ComposerToken)
class ComposerTokenAdmin(ReadOnlyAdminMixin, BaseAdmin):
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
