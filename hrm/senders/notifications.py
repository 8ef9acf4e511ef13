"""Emails about HRM sender approvals. They name the clinician, the site and the decision, never
a patient: nothing here touches referrals."""

from django.conf import settings
from django.urls import reverse

from directory.emails import email_send_after_commit
from hrm.models import SenderApproval


def _send(subject: str, body: str, addresses: list[str]) -> None:
    email_send_after_commit(
        subject=subject, body=body, addresses=addresses, about=f"an HRM approval ({subject!r})"
    )


def _account_url() -> str:
    return settings.SITE_URL + reverse("directory:account")


def sender_approval_notify_approved(approval: SenderApproval) -> None:
    """Tell the clinician and the site's notification address that the site may now send HRM
    reports with the clinician's UPI."""
    subject = f"{approval.site} is approved to send HRM reports"
    body = (
        f"Support approved HRM sending for {approval.user} at {approval.site} "
        f"(UPI {approval.upi}).\n\n"
        "Messages and consultation letters sent from eReferrals can now also reach the EMRs of "
        "stakeholders who are live on HRM.\n\n"
        f"See where you stand: {_account_url()}\n"
    )
    _send(subject, body, [approval.user.email, approval.site.notification_email])


def sender_approval_notify_rejected(approval: SenderApproval) -> None:
    """Tell the clinician why their request was turned down, so they can fix it and ask again.
    The site is not told: nothing changed for it."""
    subject = f"Your HRM sending request for {approval.site} was not approved"
    body = (
        f"Support did not approve HRM sending for you at {approval.site} "
        f"(UPI {approval.upi}).\n\n"
        f"Support's note: {approval.decision_note}\n\n"
        f"You can correct your UPI and ask again: {_account_url()}\n"
    )
    _send(subject, body, [approval.user.email])


def sender_approval_notify_revoked(approval: SenderApproval) -> None:
    """Tell the clinician and the site that HRM sending stopped, so nobody expects HRM copies."""
    subject = f"HRM sending for {approval.user} at {approval.site} was revoked"
    note = f"Support's note: {approval.decision_note}\n\n" if approval.decision_note else ""
    body = (
        f"Support revoked HRM sending for {approval.user} at {approval.site} "
        f"(UPI {approval.upi}). Messages still reach stakeholders inside eReferrals and by "
        "email, but no longer through HRM.\n\n"
        f"{note}See where you stand: {_account_url()}\n"
    )
    _send(subject, body, [approval.user.email, approval.site.notification_email])


def sender_approval_notify_requested(approval: SenderApproval) -> None:
    """Tell support a clinician asks to send through HRM, with a link to decide, so nobody has
    to watch the Pending filter. Support: ``HRM_SUPPORT_EMAILS``, else the staff who can decide
    approvals (hrm/support_contacts.py)."""
    from hrm.support_contacts import support_email_addresses

    subject = f"HRM sending requested: {approval.user} at {approval.site}"
    link = settings.SITE_URL + reverse("admin:hrm_senderapproval_change", args=[approval.pk])
    body = (
        f"{approval.user} asks to send HRM reports for {approval.site} with UPI {approval.upi}."
        f"\n\nCheck the UPI with OntarioMD's service desk, then approve or reject: {link}\n"
    )
    _send(subject, body, support_email_addresses())
