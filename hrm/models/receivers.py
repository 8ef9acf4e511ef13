"""Who may receive through HRM: OntarioMD's list of approved receivers, and each import of it."""

from django.conf import settings
from django.db import models

from directory.fields import ProfessionalIdField


class ReceiverImport(models.Model):
    """One upload of OntarioMD's list of approved receivers: previewed first, then applied."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"
        APPLIED = "applied", "Applied"
        DISCARDED = "discarded", "Discarded"

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_name = models.CharField(max_length=200)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField("SHA-256", max_length=64)
    content = models.BinaryField(help_text="The uploaded file, kept for the record.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    allowed_mass_removal = models.BooleanField(default=False)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display().lower()}, {self.created_at:%Y-%m-%d})"


class HrmReceiver(models.Model):
    """A clinician on OntarioMD's list of approved HRM receivers. Removed receivers are
    deactivated, not deleted, so the history of who was live stays readable."""

    professional_id = ProfessionalIdField(unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True, db_index=True)
    added_by_import = models.ForeignKey(
        ReceiverImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by_import = models.ForeignKey(
        ReceiverImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "HRM receiver"
        ordering = ["last_name", "first_name"]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} ({self.professional_id})"
