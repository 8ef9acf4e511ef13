"""The outbox: one row per report (a message part for one recipient), and why a message was or
was not sent through HRM."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from directory.models import Listing
from hrm.error_classes import ErrorClass


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
        # Replaced or withdrawn before it went out: it never will (a withdrawn part not yet in
        # an EMR is simply not sent).
        CANCELLED = "cancelled", "Cancelled"

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
        help_text=(
            "The report's date and time in the EMR: when the message was sent, a second later for "
            "each further part, so no two reports to one clinician for one patient share it "
            "(OSCAR would hide the second as a version of the first)."
        ),
    )
    # Who the report is about, as Send tells one patient from another when it dates a report
    # (hrm/reports/services.py): the latest time used for a patient is one probe of an index
    # on (key, event_at), whatever other patients' reports hold.
    patient_card_key = models.TextField(
        blank=True, editable=False, help_text="The patient's health card number, normalised."
    )
    patient_name_key = models.TextField(
        blank=True, editable=False, help_text="The patient's legal name, without case."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Versions (HRM-FORMAT.md 10, 11.3): a new version of a report keeps its report number and
    # recipient (SendingFacilityReportNumber + DeliverToUserID: one chain in each EMR), with a
    # later EventDateTime and its own Transaction ID.
    previous_version = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next_version",
        help_text="The report this one replaces in the recipient's EMR; empty for a first version.",
    )
    version = models.PositiveSmallIntegerField(default=1)
    withdrawal_text = models.TextField(
        blank=True,
        help_text="Set on a withdrawal version: the text it carries in place of the part (who "
        "withdrew it, when and why).",
    )
    result_status = models.CharField(
        "ResultStatus",
        max_length=1,
        default="S",
        help_text="S: a signed, final report; withdrawals too (docs/hrm-files.md, Project "
        "decisions: versions).",
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Decided where the error was raised (hrm/error_classes.py); what support's figures, bulk
    # re-send and the clinician's words go by. Empty when there is no error.
    error_class = models.CharField(max_length=20, choices=ErrorClass.choices, blank=True)
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
    # renamed" (hrm/delivery/services/outbox.py).
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
            # One first version per part and recipient; later versions hang off it.
            models.UniqueConstraint(
                fields=["message", "recipient"],
                condition=models.Q(attachment__isnull=True, previous_version__isnull=True),
                name="hrm_report_one_text_report_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["attachment", "recipient"],
                condition=models.Q(attachment__isnull=False, previous_version__isnull=True),
                name="hrm_report_one_file_report_per_recipient",
            ),
            models.CheckConstraint(
                name="hrm_report_version_follows_previous",
                condition=models.Q(previous_version__isnull=True, version=1)
                | models.Q(previous_version__isnull=False, version__gt=1),
            ),
        ]
        indexes = [
            models.Index(fields=["patient_card_key", "-event_at"], name="hrm_report_card_latest"),
            models.Index(fields=["patient_name_key", "-event_at"], name="hrm_report_name_latest"),
            # Support's search by Professional ID, newest first; the dashboard's sent per day.
            models.Index(fields=["deliver_to_user_id", "-id"], name="hrm_report_recipient_newest"),
            models.Index(fields=["sent_at"], name="hrm_report_sent_at"),
            # Support's dashboard and bulk re-send count and select failed reports by class; the
            # dashboard takes each class's example from its latest failures.
            models.Index(
                fields=["error_class", "-last_attempt_at"],
                condition=models.Q(status="failed"),
                name="hrm_report_failed_class",
            ),
            # The dashboard's most frequent recipients among the failed reports, from the index.
            models.Index(
                fields=["recipient_name", "deliver_to_user_id"],
                condition=models.Q(status="failed"),
                name="hrm_report_failed_recipient",
            ),
            # The reports a worker takes along with its batch: the queued ones due, longest
            # waiting first, without walking the sent ones (hrm/delivery/selectors/due.py).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status="queued"),
                name="hrm_report_queued_due",
            ),
        ]

    def __str__(self):
        return self.transaction_id

    @property
    def part_label(self) -> str:
        return self.attachment.original_name if self.attachment_id else "Typed message"

    @property
    def is_withdrawal(self) -> bool:
        return bool(self.withdrawal_text)
