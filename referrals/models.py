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
    # A declined referral can be re-opened (back to new); booked to booked changes the
    # appointment, booked to accepted removes it.
    RECEIVER_TRANSITIONS = {
        Status.NEW: {Status.ACCEPTED, Status.DECLINED},
        Status.FORWARDED: {Status.ACCEPTED, Status.DECLINED},
        Status.ACCEPTED: {Status.BOOKED, Status.DECLINED, Status.COMPLETED},
        Status.BOOKED: {Status.BOOKED, Status.COMPLETED, Status.ACCEPTED, Status.DECLINED},
        Status.DECLINED: {Status.NEW},
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
    # Set while booked: the appointment's date and time (Ocean's booking folders follow it).
    appointment_at = models.DateTimeField("appointment", null=True, blank=True)
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
    actor_listing = models.ForeignKey(
        Listing,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The stakeholder the actor spoke for.",
    )
    description = models.CharField(max_length=500)
    # What a status change says to the stakeholders in the thread (a decline's reason, the
    # appointment): they are posted there as well as logged.
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    THREAD_KINDS = {Kind.FORWARDED, Kind.STATUS_CHANGED}

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description}"

    @property
    def is_status_note(self) -> bool:
        return self.kind in self.THREAD_KINDS

    @property
    def author_display(self) -> str:
        return self.actor_name

    @property
    def author_listing(self):
        return self.actor_listing


class Message(models.Model):
    """One post in the referral's single thread, visible to every stakeholder. A referrer who was
    not signed in writes without an account: no author, their name in ``author_name``."""

    is_status_note = False  # the thread shows messages and status changes (``ReferralEvent``)

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    author_name = models.CharField(
        max_length=200, blank=True, help_text="The referrer's name, when they have no account."
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

    @property
    def author_display(self) -> str:
        if self.author_id:
            return str(self.author)
        return f"{self.author_name} (referrer, not signed in)"


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


class ReferrerAccessCode(models.Model):
    """A one-time code emailed to the address of a referrer who was not signed in, so they can
    read and answer their referral's thread. Only its hash is kept; it expires and allows a few
    attempts."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="access_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Access code {self.pk} for referral {self.referral_id}"


class ReviewMark(models.Model):
    """Something on a referral that ``user`` has not reviewed yet: a message or status change
    by someone else, or a delivery of their own message that failed. Open while ``reviewed_at``
    is empty; "Mark as reviewed" closes it."""

    class Reason(models.TextChoices):
        POSTED = "posted", "New in the thread"
        DELIVERY_FAILED = "delivery_failed", "Delivery failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_marks"
    )
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="review_marks")
    # A message, or a status change (its event): exactly one.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="review_marks"
    )
    event = models.ForeignKey(
        ReferralEvent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_marks",
    )
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.POSTED)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "message", "reason"],
                condition=models.Q(reviewed_at__isnull=True, message__isnull=False),
                name="review_mark_one_open_per_message",
            ),
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=models.Q(reviewed_at__isnull=True, event__isnull=False),
                name="review_mark_one_open_per_event",
            ),
            models.CheckConstraint(
                name="review_mark_message_or_event",
                condition=models.Q(message__isnull=False, event__isnull=True)
                | models.Q(message__isnull=True, event__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "referral"],
                condition=models.Q(reviewed_at__isnull=True),
                name="review_mark_open",
            )
        ]

    def __str__(self):
        return f"{self.get_reason_display()} for {self.user} on referral {self.referral_id}"
