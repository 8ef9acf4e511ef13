"""Support's records of HRM delivery: every attempt, every bulk re-send, every alert, and HRM's
health."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


# What a delivery error was (hrm.delivery.errors reads it from the error's text).
class ErrorClass(models.TextChoices):
    UNREACHABLE = "unreachable", "HRM unreachable"
    AUTHENTICATION = "authentication", "Our key refused"
    HOST_KEY = "host_key", "HRM's host key not pinned"
    FOLDER = "folder", "HRM folder missing or closed"
    PERMISSION = "permission", "Permission refused"
    RECIPIENT = "recipient", "This file refused"
    CONFIGURATION = "configuration", "Our configuration"
    INVALID = "invalid", "Report invalid"
    MISSING_FILE = "missing_file", "Attachment missing"
    BUILD = "build", "Report could not be built"
    WORKER = "worker", "Worker stopped"
    SENDER = "sender", "Sender no longer approved"
    UNEXPECTED = "unexpected", "Unexpected error"


class HrmAttempt(models.Model):
    """One delivery attempt of one report, as the worker recorded it when it ended. Never
    edited: the report row says where the delivery stands, these say how it got there."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed, not retrying"

    report = models.ForeignKey(
        "hrm.HrmReport", on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField(help_text="Attempt number within this delivery.")
    resend = models.BooleanField(default=False, help_text="Part of a re-sent delivery.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField("duration (ms)")
    worker = models.CharField(max_length=200, help_text="Host, process and Celery worker.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error_class = models.CharField(max_length=20, choices=ErrorClass.choices, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "HRM delivery attempt"
        ordering = ["finished_at", "id"]
        indexes = [models.Index(fields=["outcome", "finished_at"], name="hrm_attempt_outcome_time")]

    def __str__(self):
        return f"Attempt {self.number} of {self.report_id}: {self.get_outcome_display()}"


class HrmBulkResend(models.Model):
    """One bulk re-send: who asked, why, what was selected and what was requeued."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=200)
    reason = models.TextField()
    selection = models.CharField(max_length=300, help_text="How the reports were chosen.")
    created_at = models.DateTimeField(auto_now_add=True)
    selected = models.PositiveIntegerField()
    requeued = models.PositiveIntegerField()
    skipped_sent = models.PositiveIntegerField(help_text="Already sent: left alone.")
    skipped_pending = models.PositiveIntegerField(help_text="Still on their way: left alone.")
    skipped_blocked = models.PositiveIntegerField(
        default=0, help_text="Failed, but their author can no longer send through HRM."
    )
    batches = models.PositiveIntegerField()
    report_ids = models.JSONField(default=list, help_text="The reports requeued.")

    class Meta:
        verbose_name = "HRM bulk re-send"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.requeued} report(s) by {self.actor_name} on {self.created_at:%Y-%m-%d %H:%M}"


def _selection_key() -> str:
    return secrets.token_urlsafe(16)


class HrmReportSelection(models.Model):
    """Reports chosen for a bulk re-send (from the admin list, or an alert's link), kept here so
    that the re-send page's address names a short random key: a few hundred ids would not fit
    in an address, and thousands are what an outage leaves."""

    key = models.CharField(max_length=32, unique=True, default=_selection_key, editable=False)
    report_ids = models.JSONField(default=list)
    description = models.CharField(max_length=300, help_text="How the reports were chosen.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "HRM report selection"

    def __str__(self):
        return self.description


class HrmAlert(models.Model):
    """An email about HRM delivery: a message's final failure (to the sending site and to
    support), its resolution, a daily digest, or HRM going down and coming back."""

    class Kind(models.TextChoices):
        FAILURE = "failure", "Delivery failed"
        RESOLVED = "resolved", "Resolved"
        DIGEST = "digest", "Daily digest"
        OUTAGE = "outage", "HRM unreachable"
        RECOVERY = "recovery", "HRM back"

    class State(models.TextChoices):
        EMAILED = "emailed", "Emailed"
        HELD = "held", "Held for the daily digest"
        DIGESTED = "digested", "Sent in a digest"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.EMAILED)
    message = models.ForeignKey(
        "referrals.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    recipients = models.JSONField(default=list)
    resolved_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolves",
        help_text="For a failure: the note that said every report of the message went out.",
    )
    digest = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="digested"
    )

    class Meta:
        verbose_name = "HRM alert"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.subject


class HrmAlertReport(models.Model):
    """A report a failure alert is about, for the delivery that failed: each failed delivery
    of a report is alerted once, however many attempts it took."""

    alert = models.ForeignKey(HrmAlert, on_delete=models.CASCADE, related_name="items")
    report = models.ForeignKey("hrm.HrmReport", on_delete=models.CASCADE, related_name="+")
    delivery_started_at = models.DateTimeField()
    error = models.TextField()

    class Meta:
        verbose_name = "report in an HRM alert"
        verbose_name_plural = "reports in HRM alerts"
        constraints = [
            models.UniqueConstraint(
                fields=["report", "delivery_started_at"], name="hrm_alert_once_per_failed_delivery"
            )
        ]

    def __str__(self):
        return f"Report {self.report_id} in alert {self.alert_id}"


class HrmHealth(models.Model):
    """HRM's health as the workers see it (one row): consecutive failures that say nothing
    about one report, across recipients, mean HRM is down; dispatch then pauses, backing off,
    and one probe at a time finds out whether it is back."""

    class State(models.TextChoices):
        UP = "up", "Up"
        DOWN = "down", "Unreachable"

    state = models.CharField(max_length=4, choices=State.choices, default=State.UP)
    consecutive_failures = models.PositiveIntegerField(default=0)
    streak_recipients = models.JSONField(default=list)
    down_since = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    backoff_seconds = models.FloatField(default=0)
    probe_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker probing HRM after a pause went ahead."
    )
    last_error = models.TextField(blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "HRM health"
        verbose_name_plural = "HRM health"

    def __str__(self):
        return f"HRM {self.get_state_display().lower()}"
