"""The access trail: one row each time someone views, downloads, searches, re-sends or exports
personal health information (PHIPA s.10.1: who, when, whose information, what was done).

This app sits at the bottom of the dependency chain (directory <- audit <- referrals <- hrm): it
never imports the apps that use it. A row keeps ids and a snapshot of the patient as they were
shown, so it still reads correctly after the referral changes or the user is removed.

Rows are append-only: the model refuses to save an existing row or delete one, the admin offers
no add, change or delete to anyone (superusers included), and on PostgreSQL and SQLite a trigger
refuses UPDATE and DELETE from any client (migration 0001).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an access entry."""


class AccessEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Access entries are never changed.")

    def delete(self):
        raise AppendOnlyError("Access entries are never deleted.")


class AccessEntry(models.Model):
    class Action(models.TextChoices):
        VIEWED = "viewed", "Viewed"
        DOWNLOADED = "downloaded", "Downloaded"
        SEARCHED = "searched", "Searched"
        RESENT = "resent", "Re-sent"
        EXPORTED = "exported", "Exported"

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # No database constraint and no cascade: removing a user must neither fail nor touch the
    # trail; the username and name below keep saying who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField("username", max_length=150, db_index=True)
    actor_name = models.CharField("name", max_length=200, blank=True)
    action = models.CharField(max_length=12, choices=Action.choices, db_index=True)
    record = models.CharField(
        max_length=40, help_text="What was looked at: referral, attachment, HRM details, …"
    )
    referral_id = models.PositiveBigIntegerField("referral", null=True, blank=True, db_index=True)
    object_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The attachment, message or HRM report, when one."
    )
    patient_name = models.CharField(max_length=201, blank=True)
    patient_birth_date = models.DateField(null=True, blank=True)
    patient_health_card = models.CharField(max_length=20, blank=True, db_index=True)
    detail = models.CharField(max_length=500, blank=True)
    path = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AccessEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "access entry"
        verbose_name_plural = "access entries"
        indexes = [models.Index(fields=["patient_health_card", "at"], name="audit_patient_at")]

    def __str__(self):
        return f"{self.actor_username} {self.get_action_display().lower()} {self.record}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Access entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Access entries are never deleted.")
