"""Reads for HRM delivery: who gets a message's reports, and what the clinician sees per
message (the checkmark, the pending mark, the red "!", or no icon and why)."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Count
from django.http import Http404

from directory.models import Listing, User
from directory.selectors import user_site_id_set
from hrm.delivery.errors import clinician_error_text
from hrm.models import HrmAttempt, HrmHealth, HrmMessageDecision, HrmReport
from hrm.receivers.selectors import listings_live_on_hrm
from hrm.senders.selectors import user_can_send_via_hrm
from referrals.models import Message, Referral
from referrals.selectors import messages_visible_to, referral_get_for_user_or_404


@dataclass(frozen=True)
class StakeholderHrm:
    """Whether one stakeholder listing would get a message's HRM reports, and why (or why not)
    in plain words that name it."""

    listing: Listing
    goes: bool
    why: str


@dataclass(frozen=True)
class HrmEligibility:
    """The live stakeholders a message goes to via HRM, or why it does not go at all; and what
    each stakeholder gets (``stakeholders``), for the composer's preview."""

    recipients: tuple[Listing, ...]
    reasons: tuple[str, ...]
    stakeholders: tuple[StakeholderHrm, ...] = ()


def message_hrm_eligibility(
    *,
    referral: Referral,
    author: User,
    author_listing: Listing | None,
    stakeholders: list[Listing],
) -> HrmEligibility:
    """Ocean's rules: the original referrer was signed in when sending the eReferral, the author
    can send via HRM (Professional ID and approved UPI at the site they write for), and at least
    one stakeholder other than the author's own listing is live on HRM. ``stakeholders``: the
    referral's stakeholder listings (``referral_stakeholder_listings``)."""
    reasons = []
    if not referral.referrer_signed_in:
        reasons.append("The referrer was not signed in when sending the eReferral.")
    if author_listing is None:
        reasons.append("You are not writing for one of this referral's listings.")
    else:
        reasons.extend(user_can_send_via_hrm(author, author_listing.site).missing)
    others = [listing for listing in stakeholders if listing != author_listing]
    live = listings_live_on_hrm(others)
    live_others = [listing for listing in others if live[listing.pk].is_live]
    recipients = _distinct_clinicians(live_others, author_listing)
    each = _stakeholders_hrm(stakeholders, author_listing, live, recipients)
    if live_others and not recipients:
        reasons.append(
            "The only stakeholders live on HRM have the Professional ID of the listing you write "
            f"for ({author_listing.clinician_professional_id_display}): a message does not go "
            "to its own side's EMR."
        )
    elif not recipients:
        why = " ".join(f"{item.listing}: {item.why}" for item in each)
        if not referral.referrer_signed_in:
            why += f" The referrer, {referral.referrer_name}, has no listing and no EMR on HRM."
        reasons.append(f"No stakeholder other than your own side is live on HRM. {why.strip()}")
    if reasons:
        # Nothing goes: each stakeholder's line says so, the first reason first.
        each = [
            StakeholderHrm(item.listing, False, item.why if not item.goes else reasons[0])
            for item in each
        ]
    return HrmEligibility(
        recipients=() if reasons else recipients, reasons=tuple(reasons), stakeholders=tuple(each)
    )


def _stakeholders_hrm(
    stakeholders: list[Listing],
    author_listing: Listing | None,
    live: dict,
    recipients: tuple[Listing, ...],
) -> list[StakeholderHrm]:
    by_clinician = {listing.clinician_professional_id: listing for listing in recipients}
    each = []
    for listing in stakeholders:
        if listing == author_listing:
            why = "The listing you write for: a message does not go to its own side's EMR."
        elif not live[listing.pk].is_live:
            why = live[listing.pk].text
        elif listing in recipients:
            why = f"{live[listing.pk].text}: into their EMR."
        elif (
            author_listing is not None
            and listing.clinician_professional_id == author_listing.clinician_professional_id
        ):
            why = (
                f"Has the Professional ID of the listing you write for "
                f"({author_listing.clinician_professional_id_display}): not to your own EMR."
            )
        else:
            via = by_clinician.get(listing.clinician_professional_id)
            why = f"The same clinician as {via}, who gets one copy." if via else ""
        each.append(StakeholderHrm(listing=listing, goes=listing in recipients, why=why))
    return each


def _distinct_clinicians(
    listings: list[Listing], author_listing: Listing | None
) -> tuple[Listing, ...]:
    """One recipient per Professional ID, HRM's address: a clinician with two stakeholder
    listings (a referral forwarded between them) gets one set of reports, through the first
    listing in stakeholder order, and none when one of them is the author's own listing."""
    seen = {author_listing.clinician_professional_id} if author_listing else set()
    seen.discard("")
    distinct = []
    for listing in listings:
        if listing.clinician_professional_id not in seen:
            seen.add(listing.clinician_professional_id)
            distinct.append(listing)
    return tuple(distinct)


Status = HrmReport.Status


class HrmIcon(StrEnum):
    NONE = "none"
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


ICON_TEXT = {
    HrmIcon.PENDING: "Sending to EMR via HRM",
    HrmIcon.SENT: "Sent to EMR via HRM",
    HrmIcon.FAILED: "HRM delivery failed",
}


def message_hrm_icon(reports: Iterable[HrmReport]) -> HrmIcon:
    """One icon for all of a message's reports: any report still on its way shows pending (a
    part failing while another retries is not the end of it), "!" only once a part has failed
    for good and nothing else is still being sent, and the checkmark when every report is
    sent."""
    # A cancelled report was replaced or withdrawn before it left: it never will.
    statuses = {report.status for report in reports} - {HrmReport.Status.CANCELLED}
    if not statuses:
        return HrmIcon.NONE
    if statuses & {HrmReport.Status.QUEUED, HrmReport.Status.SENDING}:
        return HrmIcon.PENDING
    if HrmReport.Status.FAILED in statuses:
        return HrmIcon.FAILED
    if statuses == {HrmReport.Status.SENT}:
        return HrmIcon.SENT
    return HrmIcon.PENDING


def user_on_author_side(user: User, message: Message, site_ids: set[int] | None = None) -> bool:
    """The author, or a member of the site of the listing they wrote for: the people who may
    re-send its HRM reports. ``site_ids``: the user's sites, when the caller has them."""
    if message.author_id == user.pk:
        return True
    if message.author_listing is None:
        return False
    if site_ids is None:
        site_ids = user_site_id_set(user)
    return message.author_listing.site_id in site_ids


def message_get_for_user_or_404(user: User, referral_id: int, message_id: int) -> Message:
    """A message of a referral the user is a stakeholder of; anything else is a 404."""
    referral = referral_get_for_user_or_404(user, referral_id)
    message = (
        Message.objects.select_related("author", "author_listing", "referral")
        .filter(messages_visible_to(user), pk=message_id, referral=referral)
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


@dataclass
class MessageHrmView:
    """What the referral page shows beside one message."""

    message_id: int
    icon: HrmIcon
    reports: list[HrmReport]
    reasons: tuple[str, ...]  # why no HRM: shown to the author only
    can_resend: bool

    @property
    def text(self) -> str:
        # After a re-send the icon says so until the outcome, and an outcome that is a failure
        # again reads as the re-send's, not as the failure the author already saw.
        resent = {report.status for report in self.reports if report.resent_at is not None}
        if self.icon == HrmIcon.PENDING and resent & {Status.QUEUED, Status.SENDING}:
            return "Re-sending to EMR via HRM"
        if self.icon == HrmIcon.FAILED and Status.FAILED in resent:
            return "HRM re-send failed"
        return ICON_TEXT.get(self.icon, "")

    @property
    def failed_count(self) -> int:
        return sum(report.status == HrmReport.Status.FAILED for report in self.reports)


def referral_hrm_views(
    user: User, referral: Referral, messages: Iterable[Message]
) -> dict[int, MessageHrmView]:
    """``{message id: MessageHrmView}`` for the referral page, in two queries whatever the number
    of messages (the report bytes are never loaded)."""
    messages = list(messages)
    reports: dict[int, list[HrmReport]] = {m.pk: [] for m in messages}
    for report in (
        HrmReport.objects.filter(message__referral=referral)
        .select_related("recipient", "attachment")
        .defer("xml")
        # Every attempt, re-sends included: the report's own counter restarts with each.
        .annotate(attempt_total=Count("attempt_log"))
        # Each recipient's parts together: what happened is said once per recipient.
        .order_by("recipient__name", "attachment_id", "id")
    ):
        reports.setdefault(report.message_id, []).append(report)
    decisions = dict(
        HrmMessageDecision.objects.filter(message__referral=referral).values_list(
            "message_id", "reasons"
        )
    )
    my_site_ids = user_site_id_set(user)
    hrm_down = any(r.status != HrmReport.Status.SENT for rs in reports.values() for r in rs) and (
        HrmHealth.objects.filter(pk=1, state=HrmHealth.State.DOWN).exists()
    )
    for report in (r for rs in reports.values() for r in rs):
        # What the clinician reads: true for the state, with cause and next step; the server's
        # own words stay in last_error, for support.
        report.clinician_error = clinician_error_text(report, hrm_down=hrm_down)
    views = {}
    for message in messages:
        views[message.pk] = MessageHrmView(
            message_id=message.pk,
            icon=message_hrm_icon(reports[message.pk]),
            reports=reports[message.pk],
            reasons=tuple(decisions.get(message.pk, ())) if message.author_id == user.pk else (),
            can_resend=user_on_author_side(user, message, my_site_ids),
        )
    return views


def message_hrm_attempts(message: Message) -> dict[int, list[HrmAttempt]]:
    """``{report id: its attempts in order}``, for the short history on the details page."""
    attempts: dict[int, list[HrmAttempt]] = {}
    for attempt in HrmAttempt.objects.filter(report__message=message).order_by("finished_at", "id"):
        attempts.setdefault(attempt.report_id, []).append(attempt)
    return attempts
