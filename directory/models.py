from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from .fields import ProfessionalIdField
from .professional_id import professional_id_display
from .text_limits import (
    AUTHOR_NAMES_MAX,
    CLINICIAN_NAME_MAX,
    Utf16MaxLengthValidator,
    author_names_validate,
    clinician_name_validate,
    name_control_characters_refuse,
)

_NAME_VALIDATORS = [clinician_name_validate, name_control_characters_refuse]


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
    text_as_addendum_letter = models.BooleanField(
        "Typed text goes to EMRs as the addendum letter",
        default=False,
        help_text="Send a message's typed text to the recipients' EMRs (via HRM) as its addendum "
        "letter, a PDF with the referral's details and a signature line, instead of a text report.",
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
        validators=[Utf16MaxLengthValidator(AUTHOR_NAMES_MAX), *_NAME_VALIDATORS],
    )
    last_name = models.CharField(
        "last name",
        max_length=150,
        blank=True,
        validators=[Utf16MaxLengthValidator(AUTHOR_NAMES_MAX), *_NAME_VALIDATORS],
    )
    sites = models.ManyToManyField(Site, related_name="members", blank=True)
    professional_id = ProfessionalIdField(
        blank=True,
        db_index=True,
        help_text="CPSO number (for example CPSO 12345) or CNO number (for example CNO 1234567).",
    )
    # Set by support once they checked the Professional ID is this person's (the college's
    # register, OntarioMD's service desk); cleared when the ID changes. Only a verified clinician
    # may change a listing's clinician to themselves without support's approval.
    professional_id_verified_at = models.DateTimeField(
        "Professional ID verified at",
        null=True,
        blank=True,
        help_text="When support checked that this Professional ID is this person's.",
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
        constraints = [
            # One Professional ID belongs to one person: HRM delivers by it.
            models.UniqueConstraint(
                fields=["professional_id"],
                condition=~Q(professional_id=""),
                name="user_professional_id_one_person",
                violation_error_message=(
                    "Another account already has this Professional ID. If it is yours, ask "
                    "support to resolve it."
                ),
            )
        ]

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

    @property
    def professional_id_verified(self) -> bool:
        return bool(self.professional_id) and self.professional_id_verified_at is not None


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
        validators=[Utf16MaxLengthValidator(CLINICIAN_NAME_MAX), *_NAME_VALIDATORS],
    )
    clinician_surname = models.CharField(
        "Surname",
        max_length=100,
        blank=True,
        validators=[Utf16MaxLengthValidator(CLINICIAN_NAME_MAX), *_NAME_VALIDATORS],
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


class ListingClinicianChange(models.Model):
    """A change of a listing's clinician (names, Professional ID), as asked and as decided: HRM
    delivers the listing's reports to that clinician's EMR, so who changed it, when, and from what
    to what is kept, and a change asked by anyone but support or the verified clinician waits for
    support's approval. Never edited but for the decision."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for support"
        APPLIED = "applied", "Applied"
        APPROVED = "approved", "Approved by support"
        REJECTED = "rejected", "Rejected by support"

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="clinician_changes")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by_name = models.CharField(max_length=300)
    requested_at = models.DateTimeField(auto_now_add=True)
    before_first_name = models.CharField(max_length=100, blank=True)
    before_surname = models.CharField(max_length=100, blank=True)
    before_professional_id = models.CharField(max_length=9, blank=True)
    after_first_name = models.CharField(max_length=100, blank=True)
    after_surname = models.CharField(max_length=100, blank=True)
    after_professional_id = models.CharField(max_length=9, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by_name = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "listing clinician change"

    def __str__(self):
        return f"{self.listing}: {self.before_text} → {self.after_text}"

    @staticmethod
    def _text(first: str, surname: str, professional_id: str) -> str:
        name = " ".join(p for p in (first, surname) if p) or "no clinician"
        shown = professional_id_display(professional_id)
        return f"{name} ({shown})" if shown else name

    @property
    def before_text(self) -> str:
        return self._text(self.before_first_name, self.before_surname, self.before_professional_id)

    @property
    def after_text(self) -> str:
        return self._text(self.after_first_name, self.after_surname, self.after_professional_id)
