"""Reads on HRM senders: whether a user may send HRM reports for a site, and if not, what is
missing, in words the clinician can act on.

A user can send through HRM for a site when they belong to it, have a Professional ID, and
support approved the UPI they have *now* for that site: an approval names the UPI it was given
for, so changing the UPI on the account needs a new approval.
"""

from dataclasses import dataclass

from django.db import models
from django.http import Http404

from directory.models import Site, User
from directory.professional_id import professional_id_display
from directory.selectors import user_site_id_set
from hrm.models import SenderApproval


@dataclass(frozen=True, slots=True)
class SenderStatus:
    """Where one user stands as an HRM sender for one site."""

    site: Site
    can_send: bool
    missing: tuple[str, ...]
    approval: SenderApproval | None
    # Whether asking support (again) makes sense: there is a UPI to approve and no request or
    # approval for that same UPI already.
    can_request: bool

    @property
    def text(self) -> str:
        if self.can_send:
            return f"You can send HRM reports for {self.site}."
        return " ".join(self.missing)


def site_get_for_member_or_404(user: User, site_id: int) -> Site:
    """A site the user belongs to; any other site is a 404, so nobody learns which sites exist."""
    site = Site.objects.filter(pk=site_id, members=user).first()
    if site is None:
        raise Http404("No such site.")
    return site


def user_can_send_via_hrm(user: User, site: Site) -> SenderStatus:
    """Whether ``user`` may send HRM reports acting for ``site`` (one query for a member with an
    approval, two at most)."""
    approval = SenderApproval.objects.filter(user=user, site=site, site__members=user).first()
    is_member = approval is not None or site.pk in user_site_id_set(user)
    return _sender_status(user, site, approval, is_member=is_member)


def user_sender_statuses(user: User) -> list[SenderStatus]:
    """The user's standing as an HRM sender at each of their sites, for the account page (two
    queries whatever the number of sites)."""
    sites = list(user.sites.order_by("name"))
    approvals = {
        approval.site_id: approval
        for approval in SenderApproval.objects.filter(user=user, site__in=sites)
    }
    return [_sender_status(user, site, approvals.get(site.pk), is_member=True) for site in sites]


def sender_identity_fields(user: User) -> dict[str, str]:
    """Who an approval is for: the account's Professional ID and name when it is asked for."""
    return {
        "professional_id": user.professional_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def sender_identity_text(approval: SenderApproval) -> str:
    name = " ".join(part for part in (approval.first_name, approval.last_name) if part)
    shown = professional_id_display(approval.professional_id) or "no Professional ID"
    return f"{name or 'no name'}, {shown}"


def sender_approval_matches_account(approval: SenderApproval, user: User) -> bool:
    """The approval was asked for with the UPI, Professional ID and name the account has now."""
    return (
        bool(user.hrm_upi)
        and approval.upi == user.hrm_upi
        and all(
            getattr(approval, field) == value
            for field, value in sender_identity_fields(user).items()
        )
    )


def sender_approval_counts(approval: SenderApproval) -> bool:
    """An approval counts only while approved and given for the UPI, Professional ID and name
    the user has now: a clinician cannot change who they are and keep sending under it."""
    return approval.status == SenderApproval.Status.APPROVED and sender_approval_matches_account(
        approval, approval.user
    )


def message_resend_status(message) -> SenderStatus | None:
    """Whether a message's HRM reports may be re-sent: its author must still be able to send
    for the site they wrote for (an approval revoked since Send stops re-sends too). None when
    they may; else the author's status, whose ``missing`` says why not."""
    if message.author_listing is None:
        return SenderStatus(
            site=None,
            can_send=False,
            missing=("The author did not write for one of this referral's listings.",),
            approval=None,
            can_request=False,
        )
    status = user_can_send_via_hrm(message.author, message.author_listing.site)
    return None if status.can_send else status


def _sender_status(
    user: User, site: Site, approval: SenderApproval | None, *, is_member: bool
) -> SenderStatus:
    if not is_member:
        return SenderStatus(
            site=site,
            can_send=False,
            missing=(f"You are not a member of {site}.",),
            approval=None,
            can_request=False,
        )
    upi = user.hrm_upi
    missing = []
    if not user.professional_id:
        missing.append("Add your Professional ID to your Clinical Contact Information.")
    if not upi:
        missing.append(
            "Add the HRM UPI that OntarioMD's service desk gave you to your Clinical Contact "
            "Information."
        )
    same_upi = approval is not None and bool(upi) and approval.upi == upi
    same_request = approval is not None and sender_approval_matches_account(approval, user)
    Status = SenderApproval.Status
    if approval is None:
        missing.append(f"Request HRM sending for {site}; support then approves your UPI.")
    elif approval.status == Status.APPROVED and not same_upi:
        missing.append(
            f"Support approved UPI {approval.upi} for {site}, but your account's UPI is "
            f"{'now ' + upi if upi else 'empty'}: request HRM sending for {site} again."
        )
    elif approval.status == Status.APPROVED and not same_request:
        missing.append(
            f"Support approved HRM sending for {site} for {sender_identity_text(approval)}; "
            "your name or Professional ID has changed since: request HRM sending for "
            f"{site} again."
        )
    elif approval.status == Status.PENDING:
        if same_request:
            missing.append(f"Your request for {site} (UPI {upi}) is waiting for support.")
        elif same_upi:
            missing.append(
                f"You asked for HRM sending for {site} as {sender_identity_text(approval)}; "
                "your name or Professional ID has changed since: request again."
            )
        else:
            missing.append(
                f"You asked for HRM sending for {site} with UPI {approval.upi}, but your "
                f"account's UPI is {'now ' + upi if upi else 'empty'}: request again."
            )
    elif approval.status == Status.REJECTED:
        missing.append(_decided(f"Support turned down HRM sending for {site}", approval))
    elif approval.status == Status.REVOKED:
        missing.append(_decided(f"Support revoked HRM sending for {site}", approval))
    can_request = bool(upi) and not (
        same_request and approval.status in (Status.PENDING, Status.APPROVED)
    )
    return SenderStatus(
        site=site,
        can_send=not missing,
        missing=tuple(missing),
        approval=approval,
        can_request=can_request,
    )


def _decided(text: str, approval: SenderApproval) -> str:
    note = approval.decision_note.strip()
    return f"{text}: “{note}”" if note else f"{text}."


def reports_sender_refusals(reports) -> dict[int, str]:
    """For reports about to go out, why their author may no longer send them (an approval revoked
    or no longer counting since Send), by report id; reports whose author still may are absent.
    One query for the batch: the authors' approvals for the sites they wrote for."""
    wanted = {(report.message.author_id, report.message.author_listing_id) for report in reports}
    approvals = {
        (approval.user_id, approval.listing_id): approval
        for approval in SenderApproval.objects.filter(
            user_id__in={user for user, _ in wanted},
            site__listings__in={listing for _, listing in wanted if listing is not None},
            site__members=models.F("user"),
        )
        .annotate(listing_id=models.F("site__listings"))
        .select_related("site")
    }
    refusals = {}
    for report in reports:
        author = report.message.author
        approval = approvals.get((author.pk, report.message.author_listing_id))
        if approval is not None and sender_approval_counts(approval):
            continue
        refusals[report.pk] = sender_refusal_text(author, approval)
    return refusals


def sender_refusal_text(author: User, approval: SenderApproval | None) -> str:
    """Why a report of ``author``'s is not sent, in words for its message's details."""
    if approval is None:
        return (
            f"Not sent: {author} is no longer allowed to send HRM reports for the site they "
            "wrote for. The message is still in the thread."
        )
    site = approval.site
    if approval.status == SenderApproval.Status.REVOKED:
        why = _decided(f"Support revoked HRM sending for {author} at {site}", approval)
    elif approval.status == SenderApproval.Status.APPROVED:
        why = (
            f"HRM sending for {author} at {site} is no longer approved: their UPI, name or "
            "Professional ID changed since support approved it."
        )
    else:
        why = (
            f"HRM sending for {author} at {site} is no longer approved (the request is "
            f"{approval.get_status_display().lower()})."
        )
    return (
        f"Not sent: {why} Reports not yet sent when that happened are not sent. The message is "
        "still in the thread; re-send once HRM sending is approved again."
    )
