import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from directory.health_card import health_card_display
from directory.models import Listing
from directory.search_text import search_fold
from directory.text_limits import (
    PATIENT_NAME_MAX,
    Utf16MaxLengthValidator,
    birth_date_validate,
    name_control_characters_refuse,
)


class Referral(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "Male"
        FEMALE = "F", "Female"
        OTHER = "O", "Other"
        UNKNOWN = "U", "Unknown"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACCEPTED = "accepted", "Accepted"
        BOOKED = "booked", "Booked"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        FORWARDED = "forwarded", "Forwarded"

    # What the current target may do next. "forwarded" means: moved to a new target that has not
    # acted on it yet, so it behaves like "new" for that target.
    RECEIVER_TRANSITIONS = {
        Status.NEW: {Status.ACCEPTED, Status.DECLINED},
        Status.FORWARDED: {Status.ACCEPTED, Status.DECLINED},
        Status.ACCEPTED: {Status.BOOKED, Status.DECLINED, Status.COMPLETED},
        Status.BOOKED: {Status.COMPLETED, Status.ACCEPTED},
    }
    OPEN_STATUSES = {Status.NEW, Status.FORWARDED, Status.ACCEPTED, Status.BOOKED}

    class Province(models.TextChoices):
        ON = "ON", "Ontario"
        QC = "QC", "Quebec"
        MB = "MB", "Manitoba"
        AB = "AB", "Alberta"
        BC = "BC", "British Columbia"
        SK = "SK", "Saskatchewan"
        NS = "NS", "Nova Scotia"
        NB = "NB", "New Brunswick"
        NL = "NL", "Newfoundland and Labrador"
        PE = "PE", "Prince Edward Island"
        YT = "YT", "Yukon"
        NT = "NT", "Northwest Territories"
        NU = "NU", "Nunavut"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient_first_name = models.CharField(
        "legal first name",
        max_length=100,
        validators=[Utf16MaxLengthValidator(PATIENT_NAME_MAX), name_control_characters_refuse],
    )
    patient_last_name = models.CharField(
        "legal last name",
        max_length=100,
        db_index=True,
        validators=[Utf16MaxLengthValidator(PATIENT_NAME_MAX), name_control_characters_refuse],
    )
    patient_search = models.CharField(
        max_length=210,
        blank=True,
        editable=False,
        help_text="The patient's names without case or accents, kept by save() for search.",
    )
    patient_birth_date = models.DateField("date of birth", validators=[birth_date_validate])
    patient_sex = models.CharField("sex", max_length=1, choices=Sex.choices)
    patient_health_card_number = models.CharField(
        "health card number", max_length=20, help_text="Ontario: the 10 digits only."
    )
    patient_health_card_version = models.CharField("version code", max_length=2, blank=True)
    patient_province = models.CharField(
        "province", max_length=2, choices=Province.choices, default=Province.ON
    )
    reason = models.TextField("reason for referral")

    referrer_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals_sent",
    )
    referrer_listing = models.ForeignKey(
        Listing, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals_sent"
    )
    referrer_name = models.CharField(
        max_length=200, blank=True, validators=[name_control_characters_refuse]
    )
    referrer_email = models.EmailField(blank=True)
    # Recorded once at submission: HRM may only be used when the original referrer was signed in.
    referrer_signed_in = models.BooleanField(editable=False)

    target_listing = models.ForeignKey(
        Listing, on_delete=models.PROTECT, related_name="referrals_received"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="referral_signed_in_referrer_has_user_and_listing",
                condition=(
                    models.Q(
                        referrer_signed_in=True,
                        referrer_user__isnull=False,
                        referrer_listing__isnull=False,
                    )
                    | models.Q(referrer_signed_in=False, referrer_user__isnull=True)
                ),
            ),
        ]

    def __str__(self):
        return f"Referral {self.pk} for {self.patient_last_name}, {self.patient_first_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None and "update_fields" not in kwargs:
            stored = (
                type(self).objects.filter(pk=self.pk).values_list("referrer_signed_in", flat=True)
            )
            if stored and stored[0] != self.referrer_signed_in:
                raise ValidationError("Whether the referrer was signed in can never change.")
        self.patient_search = search_fold(f"{self.patient_first_name} {self.patient_last_name}")
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            names = {"patient_first_name", "patient_last_name"}
            if names & set(kwargs["update_fields"]):
                kwargs["update_fields"] = {*kwargs["update_fields"], "patient_search"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("referrals:detail", args=[self.pk])

    @property
    def patient_name(self) -> str:
        return f"{self.patient_last_name}, {self.patient_first_name}"

    @property
    def health_card_display(self) -> str:
        return health_card_display(
            self.patient_health_card_number, self.patient_health_card_version
        )

    @property
    def referrer_display(self) -> str:
        if self.referrer_user_id:
            return f"{self.referrer_user} ({self.referrer_listing})"
        return f"{self.referrer_name} <{self.referrer_email}> (not signed in)"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def receiver_can_move_to(self, status: str) -> bool:
        return status in self.RECEIVER_TRANSITIONS.get(self.status, set())


class ReferralOwnership(models.Model):
    """Each listing that ever owned (was the target of) the referral. Forwarding adds a row and
    never removes one: every owner stays a stakeholder."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="ownerships")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="ownerships")
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["since", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "listing"], name="ownership_unique_listing_per_referral"
            )
        ]

    def __str__(self):
        return f"{self.listing} owned referral {self.referral_id}"


class ReferralEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        FORWARDED = "forwarded", "Forwarded"
        STATUS_CHANGED = "status_changed", "Status changed"
        MESSAGE_POSTED = "message_posted", "Message posted"
        DELIVERY_RESENT = "delivery_resent", "Re-sent"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=200, help_text="Kept even if the user is removed.")
    description = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description}"


class Message(models.Model):
    """One post in the referral's single thread, visible to every stakeholder."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages"
    )
    author_listing = models.ForeignKey(
        Listing,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        help_text="The stakeholder the author wrote for.",
    )
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Message {self.pk} on referral {self.referral_id}"


class ComposerToken(models.Model):
    """A composer's one-time token, stored by the Send that used it (``referrals.composer``): the
    unique nonce is what makes a second post of the same composed message post nothing."""

    nonce = models.CharField(max_length=32, unique=True)
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Composer token of message {self.message_id}"


def _attachment_path(instance, filename):
    # Stored names never reuse what the user typed: no path tricks, no PHI in file names.
    return f"attachments/{instance.message.referral_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        PDF = "application/pdf", "PDF"
        JPEG = "image/jpeg", "JPEG image"
        PNG = "image/png", "PNG image"
        TIFF = "image/tiff", "TIFF image"
        TEXT = "text/plain", "Text"

    EXTENSIONS = {
        Kind.PDF: ".pdf",
        Kind.JPEG: ".jpg",
        Kind.PNG: ".png",
        Kind.TIFF: ".tiff",
        Kind.TEXT: ".txt",
    }

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=50, choices=Kind.choices)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.original_name

    @property
    def extension(self) -> str:
        """The extension the content says, whatever the file was called."""
        return self.EXTENSIONS[self.content_type]
