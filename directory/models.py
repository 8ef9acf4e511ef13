from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from .fields import ProfessionalIdField
from .professional_id import professional_id_display
from .text_limits import (
    AUTHOR_NAMES_MAX,
    CLINICIAN_NAME_MAX,
    Utf16MaxLengthValidator,
    author_names_validate,
    clinician_name_validate,
)


class Site(models.Model):
    """A clinic, hospital or central intake: the organisation users belong to."""

    class Kind(models.TextChoices):
        CLINIC = "clinic", "Clinic"
        HOSPITAL = "hospital", "Hospital"
        CENTRAL_INTAKE = "central_intake", "Central intake"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CLINIC)
    notification_email = models.EmailField(
        blank=True, help_text="Default address for this site's notifications."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """A person who signs in. Clinical Contact Information lives on the account, as in Ocean."""

    # A clinician's name is the author HRM shows in the EMR: it must fit HRM's author field.
    first_name = models.CharField(
        "first name",
        max_length=150,
        blank=True,
        validators=[Utf16MaxLengthValidator(AUTHOR_NAMES_MAX), clinician_name_validate],
    )
    last_name = models.CharField(
        "last name",
        max_length=150,
        blank=True,
        validators=[Utf16MaxLengthValidator(AUTHOR_NAMES_MAX), clinician_name_validate],
    )
    sites = models.ManyToManyField(Site, related_name="members", blank=True)
    professional_id = ProfessionalIdField(
        blank=True,
        db_index=True,
        help_text="CPSO number (for example CPSO 12345) or CNO number (for example CNO 1234567).",
    )
    hrm_upi = models.CharField(
        "HRM UPI",
        max_length=32,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
                "A UPI is the letters and digits OntarioMD's service desk gave you.",
            )
        ],
        help_text="The UPI identifier from OntarioMD's service desk, needed to send via HRM.",
    )

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self):
        return self.get_full_name() or self.username

    def clean(self):
        super().clean()
        try:
            author_names_validate(self.first_name, self.last_name)
        except ValidationError as error:
            raise ValidationError({"last_name": error}) from None

    @property
    def professional_id_display(self) -> str:
        return professional_id_display(self.professional_id)


class Listing(models.Model):
    """A directory listing: a service that receives referrals, owned by a site."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="listings")
    name = models.CharField(max_length=200)
    service = models.CharField(max_length=200, help_text="Service or specialty, e.g. Cardiology.")
    notification_email = models.EmailField(
        blank=True,
        help_text="Where notifications for this listing go; the site's address if empty.",
    )
    requires_sign_in = models.BooleanField(
        "Authentication - Requesting providers must sign in",
        default=True,
        help_text="When on, only signed-in users can send referrals to this listing.",
    )
    clinician_first_name = models.CharField(
        "First name",
        max_length=100,
        blank=True,
        validators=[Utf16MaxLengthValidator(CLINICIAN_NAME_MAX), clinician_name_validate],
    )
    clinician_surname = models.CharField(
        "Surname",
        max_length=100,
        blank=True,
        validators=[Utf16MaxLengthValidator(CLINICIAN_NAME_MAX), clinician_name_validate],
    )
    clinician_professional_id = ProfessionalIdField(blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="listing_unique_name_per_site")
        ]

    def __str__(self):
        return self.name

    @property
    def notification_address(self) -> str:
        return self.notification_email or self.site.notification_email

    @property
    def clinician_name(self) -> str:
        return " ".join(p for p in (self.clinician_first_name, self.clinician_surname) if p)

    @property
    def clinician_professional_id_display(self) -> str:
        return professional_id_display(self.clinician_professional_id)
