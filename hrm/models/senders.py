"""Who may send through HRM: a clinician's UPI approved for a site, and each decision's log."""

from django.conf import settings
from django.db import models

from directory.fields import ProfessionalIdField
from directory.models import Site


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
