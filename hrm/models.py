"""HRM: who may send (senders' approved UPIs), who may receive (OntarioMD's list of approved
receivers), and the reports built for each message part and recipient."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from directory.fields import ProfessionalIdField
from directory.models import Listing, Site


class SenderApproval(models.Model):
    """A clinician's request to send through HRM for one site, and support's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hrm_sender_approvals"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="hrm_sender_approvals")
    upi = models.CharField("UPI", max_length=32)
    # Who the request (and so the approval) is for, as the account said at the time: changing
    # the name or the Professional ID afterwards needs a new approval, as changing the UPI does.
    professional_id = ProfessionalIdField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="sender_approval_one_per_site")
        ]

    def __str__(self):
        return f"{self.user} at {self.site}: {self.get_status_display()}"

    def save(self, *args, **kwargs):
        # Created without saying who for (a fixture, a script): for the account as it is now.
        if self._state.adding and not (self.professional_id or self.first_name or self.last_name):
            self.professional_id = self.user.professional_id
            self.first_name = self.user.first_name
            self.last_name = self.user.last_name
        super().save(*args, **kwargs)


class SenderApprovalLog(models.Model):
    """Who decided what, and when: one row per action on an approval, never edited."""

    class Action(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ENTERED = "entered", "Entered by support"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    approval = models.ForeignKey(SenderApproval, on_delete=models.CASCADE, related_name="log")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=200)
    upi = models.CharField("UPI", max_length=32)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor_name}"


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


class HrmMessageDecision(models.Model):
    """Whether HRM delivery was attempted for a message and, when it was not, why: decided once,
    when the message is posted, so the author can later see the reason for "no icon"."""

    message = models.OneToOneField(
        "referrals.Message", on_delete=models.CASCADE, related_name="hrm_decision"
    )
    attempted = models.BooleanField()
    reasons = models.JSONField(default=list, help_text="Why HRM was not used, in plain words.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "HRM message decision"

    def __str__(self):
        return f"Message {self.message_id}: {'attempted' if self.attempted else 'not attempted'}"


class HrmReport(models.Model):
    """One HRM file: one message part (the typed text, or one attachment) for one recipient.

    The exact bytes are stored once, when built and validated, so every retry and re-send uploads
    the same file under the same Transaction ID (``MessageUniqueID``). The row is also the
    delivery's outbox entry: its status, not the broker, says where the delivery stands."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    message = models.ForeignKey(
        "referrals.Message", on_delete=models.CASCADE, related_name="hrm_reports"
    )
    attachment = models.ForeignKey(
        "referrals.Attachment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="hrm_reports",
        help_text="Empty for the report carrying the message's typed text.",
    )
    recipient = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="hrm_reports")
    deliver_to_user_id = models.CharField("DeliverToUserID", max_length=9)
    recipient_name = models.CharField(max_length=200)
    transaction_id = models.CharField("Transaction ID", max_length=250, unique=True)
    report_number = models.CharField("SendingFacilityReportNumber", max_length=75)
    xml = models.BinaryField(help_text="The exact plain XML that is encrypted and uploaded.")
    event_at = models.DateTimeField(
        "EventDateTime",
        null=True,
        blank=True,
        db_index=True,  # Send looks up the times already used from now on
        help_text=(
            "The report's date and time in the EMR: when the message was sent, a second later for "
            "each further part, so no two reports to one clinician for one patient share it "
            "(OSCAR would hide the second as a version of the first)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivery_started_at = models.DateTimeField(
        default=timezone.now, help_text="When this delivery (or its latest re-send) began."
    )
    resent_at = models.DateTimeField(null=True, blank=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # HRM takes each completed file away, so "the file is not there" proves nothing after a
    # crash. This marker, committed once every byte of ``<name>.part`` was acknowledged and
    # before the rename, is what lets the next attempt tell "renamed and taken" from "never
    # renamed" (hrm/services/delivery.py).
    staged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the complete file was staged as <name>.part on HRM's server, before its "
        "rename; cleared when the .part is removed.",
    )
    refused_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="First of the consecutive attempts HRM's server refused (key or permission).",
    )
    refusals = models.PositiveIntegerField(
        default=0, help_text="Consecutive attempts HRM's server refused."
    )

    class Meta:
        verbose_name = "HRM report"
        ordering = ["message_id", "attachment_id", "recipient_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "recipient"],
                condition=models.Q(attachment__isnull=True),
                name="hrm_report_one_text_report_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["attachment", "recipient"],
                condition=models.Q(attachment__isnull=False),
                name="hrm_report_one_file_report_per_recipient",
            ),
        ]

    def __str__(self):
        return self.transaction_id

    @property
    def part_label(self) -> str:
        return self.attachment.original_name if self.attachment_id else "Typed message"
