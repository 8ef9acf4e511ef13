"""Writes on HRM sender approvals: a clinician asks to send through HRM for a site with the UPI
OntarioMD gave them, and support approves, rejects, revokes, or enters a UPI directly.

Every action is one transaction that locks the approval row, checks the state it found (two
support staff deciding at once must not both win), and appends a ``SenderApprovalLog`` row: the
approval holds the current decision, the log holds who decided what and when. Emails go out only
after the transaction commits, so nobody is told about a decision that was rolled back, and a
failing email is logged (``robust``), never turning the committed decision into an error page.
"""

from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from directory.models import Site, User
from hrm.models import ErrorClass, HrmReport, SenderApproval, SenderApprovalLog
from hrm.senders import notifications
from hrm.senders.selectors import (
    sender_approval_matches_account,
    sender_identity_fields,
    sender_identity_text,
    sender_refusal_text,
)

Status = SenderApproval.Status
Action = SenderApprovalLog.Action


def sender_approval_request(*, user: User, site: Site) -> SenderApproval:
    """Ask support to approve the user's current UPI for sending HRM reports for ``site``.

    Creates the request, or re-opens a rejected, revoked or outdated one with the current UPI.
    Asking again while a request or approval for the same UPI stands changes nothing, so a
    double-clicked button is harmless.
    """
    if not user.sites.filter(pk=site.pk).exists():
        raise PermissionDenied(f"You are not a member of {site}.")
    upi = user.hrm_upi
    if not upi:
        raise ValidationError(
            "Add the HRM UPI that OntarioMD's service desk gave you to your Clinical Contact "
            "Information first."
        )
    with transaction.atomic():
        approval, created = SenderApproval.objects.select_for_update().get_or_create(
            user=user, site=site, defaults={"upi": upi, **sender_identity_fields(user)}
        )
        if not created:
            if sender_approval_matches_account(approval, user) and approval.status in (
                Status.PENDING,
                Status.APPROVED,
            ):
                return approval
            approval.upi = upi
            for field, value in sender_identity_fields(user).items():
                setattr(approval, field, value)
            approval.status = Status.PENDING
            approval.requested_at = timezone.now()
            approval.decided_at = None
            approval.decided_by = None
            approval.decision_note = ""
            approval.save()
        _log(approval, Action.REQUESTED, user)
        _notify_after_commit(notifications.sender_approval_notify_requested, approval)
    return approval


def sender_approval_approve(
    *, approval: SenderApproval, actor: User, note: str = ""
) -> SenderApproval:
    """Approve a pending request; the clinician and the site's notification address are told."""
    with transaction.atomic():
        approval = _locked(approval)
        if approval.status != Status.PENDING:
            raise ValidationError(
                f"This request is {approval.get_status_display().lower()}: only a pending "
                "request can be approved."
            )
        if approval.upi != approval.user.hrm_upi:
            # Approving the old UPI would look like success but let nobody send.
            current = approval.user.hrm_upi or "empty"
            raise ValidationError(
                f"{approval.user} asked with UPI {approval.upi} but their account's UPI is now "
                f"{current}. Ask them to request HRM sending again, or enter the UPI directly."
            )
        if not sender_approval_matches_account(approval, approval.user):
            raise ValidationError(
                f"{approval.user} changed their name or Professional ID since asking (the "
                f"request was for {sender_identity_text(approval)}). Ask them to request HRM "
                "sending again, or enter the UPI directly."
            )
        _decide(approval, Status.APPROVED, actor, note)
        _log(approval, Action.APPROVED, actor, note)
        _notify_after_commit(notifications.sender_approval_notify_approved, approval)
    return approval


def sender_approval_reject(*, approval: SenderApproval, actor: User, note: str) -> SenderApproval:
    """Turn down a pending request. The note is required: the clinician is emailed it and needs
    it to fix the request."""
    note = note.strip()
    if not note:
        raise ValidationError("Say why the request is rejected: the clinician is emailed the note.")
    with transaction.atomic():
        approval = _locked(approval)
        if approval.status != Status.PENDING:
            raise ValidationError(
                f"This request is {approval.get_status_display().lower()}: only a pending "
                "request can be rejected."
            )
        _decide(approval, Status.REJECTED, actor, note)
        _log(approval, Action.REJECTED, actor, note)
        _notify_after_commit(notifications.sender_approval_notify_rejected, approval)
    return approval


def sender_approval_revoke(
    *, approval: SenderApproval, actor: User, note: str = ""
) -> SenderApproval:
    """Withdraw an approval: the clinician can no longer send through HRM for that site. Their
    reports for it not sent yet fail now with that reason, retries included (a worker that has
    one in hand fails it too: ``outbox._senders_checked``)."""
    with transaction.atomic():
        approval = _locked(approval)
        if approval.status != Status.APPROVED:
            raise ValidationError(
                f"This request is {approval.get_status_display().lower()}: only an approval can "
                "be revoked."
            )
        _decide(approval, Status.REVOKED, actor, note.strip())
        _log(approval, Action.REVOKED, actor, note.strip())
        _reports_unsent_fail(approval)
        _notify_after_commit(notifications.sender_approval_notify_revoked, approval)
    return approval


def sender_approval_enter(
    *,
    user: User,
    site: Site,
    upi: str,
    actor: User,
    note: str = "",
    replace_user_upi: bool = False,
) -> SenderApproval:
    """Support enters a UPI they were given (by phone or email) and approves it for the site in
    one step, as OceanMD's support does in its back end.

    The UPI goes on the clinician's account when it has none. A different UPI already on the
    account is replaced only when ``replace_user_upi`` says so: an approval counts only for the
    UPI on the account, and silently overwriting what a clinician typed would hide a mistake on
    one side or the other.
    """
    upi = upi.strip()
    if not upi:
        raise ValidationError("Enter the UPI.")
    User._meta.get_field("hrm_upi").run_validators(upi)
    if not user.sites.filter(pk=site.pk).exists():
        raise ValidationError(f"{user} is not a member of {site}: add them to the site first.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.hrm_upi and locked.hrm_upi != upi and not replace_user_upi:
            raise ValidationError(
                f"{locked}'s account has UPI {locked.hrm_upi}, not {upi}. Check with the "
                "clinician, and tick “Replace the UPI on the account” if theirs is out of date."
            )
        if locked.hrm_upi != upi:
            locked.hrm_upi = upi
            locked.save(update_fields=["hrm_upi"])
        # The caller's instance shows the account as it now is.
        user.hrm_upi = upi
        approval, created = SenderApproval.objects.select_for_update().get_or_create(
            user=user, site=site, defaults={"upi": upi}
        )
        if (
            not created
            and approval.status == Status.APPROVED
            and sender_approval_matches_account(approval, user)
        ):
            raise ValidationError(f"UPI {upi} is already approved for {user} at {site}.")
        approval.upi = upi
        for field, value in sender_identity_fields(user).items():
            setattr(approval, field, value)
        _decide(approval, Status.APPROVED, actor, note.strip())
        _log(approval, Action.ENTERED, actor, note.strip())
        _notify_after_commit(notifications.sender_approval_notify_approved, approval)
    return approval


def _reports_unsent_fail(approval: SenderApproval) -> int:
    """Fail the approval's queued reports (waiting or retrying) that no attempt staged yet."""
    return HrmReport.objects.filter(
        status=HrmReport.Status.QUEUED,
        staged_at__isnull=True,
        message__author=approval.user,
        message__author_listing__site=approval.site,
    ).update(
        status=HrmReport.Status.FAILED,
        last_error=sender_refusal_text(approval.user, approval),
        error_class=ErrorClass.SENDER,
        next_attempt_at=timezone.now(),
    )


def _notify_after_commit(notify, approval: SenderApproval) -> None:
    # Robust: an email that fails after the commit is logged, never raised into the request.
    transaction.on_commit(partial(notify, approval), robust=True)


def _locked(approval: SenderApproval) -> SenderApproval:
    return (
        SenderApproval.objects.select_for_update(of=("self",))
        .select_related("user", "site")
        .get(pk=approval.pk)
    )


def _decide(approval: SenderApproval, status: str, actor: User, note: str) -> None:
    approval.status = status
    approval.decided_at = timezone.now()
    approval.decided_by = actor
    approval.decision_note = note
    approval.save()


def _log(approval: SenderApproval, action: str, actor: User, note: str = "") -> None:
    SenderApprovalLog.objects.create(
        approval=approval,
        action=action,
        actor=actor,
        actor_name=str(actor),
        upi=approval.upi,
        note=note,
    )
