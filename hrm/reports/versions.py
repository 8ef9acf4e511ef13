"""New versions of reports already on their way to an EMR (HRM-FORMAT.md 10 and 11.3).

Each EMR lists one document per version chain: the reports with the same SendingFacility,
SendingFacilityReportNumber and DeliverToUserID. A new version therefore keeps the report number
and the recipient of the report it replaces, and gets a later EventDateTime (after the
patient's latest time, as every report) and its own Transaction ID:

- an **amendment** carries the part's new content (``report_version_create``);
- a **withdrawal** carries a text saying the part was withdrawn, by whom, when and why
  (``report_withdrawal_create``), with ``ResultStatus`` ``S``: every EMR then shows it in place
  of the withdrawn one (docs/hrm-files.md, "Project decisions: versions").

A version whose predecessors never left (queued, or failed before any byte reached HRM's
server) cancels them: a withdrawn part not yet sent is simply not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from directory.models import Listing, User
from hrm.models import HrmReport
from hrm.reports.services import (
    _reports_insert_dated,
    message_parts,
    report_number_for,
    transaction_id_for,
)
from referrals.models import Attachment, Message

Status = HrmReport.Status
# A withdrawal is a signed, final report whose text says it is withdrawn: with ``C`` each EMR
# would keep showing the withdrawn version (``HRMResultsData.isNewer`` prefers the one not
# cancelled).
WITHDRAWAL_RESULT_STATUS = "S"


class ReportNotLatest(ValueError):
    """A version can only follow the latest version of its chain."""


class WithdrawalReasonMissing(ValueError):
    """A withdrawal says why."""


def version_transaction_id_for(report_number: str, deliver_to_user_id: str, version: int) -> str:
    """The Transaction ID (``MessageUniqueID``) of version ``version`` of a report: the first
    version's, then ``-v2``, ``-v3``…, so each version is a new file for every EMR."""
    first = transaction_id_for(report_number, deliver_to_user_id)
    return first if version == 1 else f"{first}-v{version}"


def report_cancel_if_unsent(report: HrmReport) -> bool:
    """Cancel ``report`` if it has not left: queued or failed, and never staged on HRM's server.
    Returns whether it was cancelled (a report being sent, or that may have reached HRM, is not).
    A worker claiming it at the same moment waits on the same row: one of the two wins."""
    cancelled = HrmReport.objects.filter(
        pk=report.pk, status__in=(Status.QUEUED, Status.FAILED), staged_at__isnull=True
    ).update(status=Status.CANCELLED, last_error="")
    if cancelled:
        report.status = Status.CANCELLED
    return bool(cancelled)


def _may_be_in_emr(report: HrmReport) -> bool:
    """Whether ``report`` or an earlier version of it may be in the recipient's EMR."""
    while report is not None:
        if report.status != Status.CANCELLED:
            return True
        report = report.previous_version
    return False


def _latest_or_error(report: HrmReport) -> None:
    if HrmReport.objects.filter(previous_version=report).exists():
        raise ReportNotLatest(
            f"Report {report.transaction_id} already has a newer version; only the latest "
            "version of a report can be replaced or withdrawn."
        )


def _version_row(
    previous: HrmReport,
    *,
    message: Message,
    attachment: Attachment | None,
    withdrawal_text: str = "",
) -> HrmReport:
    version = previous.version + 1
    return HrmReport(
        message=message,
        attachment=attachment,
        recipient_id=previous.recipient_id,
        deliver_to_user_id=previous.deliver_to_user_id,
        recipient_name=previous.recipient_name,
        transaction_id=version_transaction_id_for(
            previous.report_number, previous.deliver_to_user_id, version
        ),
        report_number=previous.report_number,
        xml=b"",
        previous_version=previous,
        version=version,
        withdrawal_text=withdrawal_text,
        result_status=WITHDRAWAL_RESULT_STATUS if withdrawal_text else "S",
    )


def _actor_name(actor: User) -> str:
    return actor.get_full_name().strip() or actor.get_username()


def withdrawal_text_for(
    report: HrmReport, *, actor: User, reason: str, withdrawn_at: datetime
) -> str:
    """The text of a withdrawal version: which part of which message, who withdrew it, when and
    why. It names the part, so the withdrawals of two parts of one message never read alike
    (OSCAR's similar-report check would hide the second under the first)."""
    sent = timezone.localtime(report.message.created_at)
    when = timezone.localtime(withdrawn_at)
    part = (
        "typed message"
        if report.attachment_id is None
        else f"attached file {report.attachment.original_name}"
    )
    return (
        "WITHDRAWN\n\n"
        f"The {part} of the message sent on {sent:%Y-%m-%d at %H:%M} was withdrawn by "
        f"{_actor_name(actor)} on {when:%Y-%m-%d at %H:%M}.\n"
        f"Reason: {reason.strip()}\n\n"
        "Please disregard the earlier version of this report."
    )


@dataclass(frozen=True)
class _Planned:
    row: HrmReport
    part: str  # the rows of one part share one EventDateTime


def _insert(message: Message, planned: list[_Planned]) -> list[HrmReport]:
    """Insert the planned rows dated from now, one EventDateTime per part, after the patient's
    latest (``_reports_insert_dated``)."""
    if not planned:
        return []
    parts: dict[str, int] = {}
    offsets = [parts.setdefault(item.part, len(parts)) for item in planned]
    rows = [item.row for item in planned]
    return _reports_insert_dated(message, rows, offsets, base=timezone.now())


def _withdrawal_planned(
    previous: HrmReport, *, actor: User, reason: str, withdrawn_at: datetime
) -> _Planned | None:
    report_cancel_if_unsent(previous)
    if not _may_be_in_emr(previous):
        return None
    text = withdrawal_text_for(previous, actor=actor, reason=reason, withdrawn_at=withdrawn_at)
    row = _version_row(
        previous, message=previous.message, attachment=previous.attachment, withdrawal_text=text
    )
    # One time per part, whatever the recipient: the files of one part then differ only in
    # TransactionInformation, and OSCAR routes the second to its clinician instead of filing it.
    return _Planned(row, f"W{previous.message_id}-{previous.attachment_id or 'T'}")


def _reason_or_error(reason: str) -> None:
    if not reason or not reason.strip():
        raise WithdrawalReasonMissing("A withdrawal needs a reason.")


def report_version_create(
    previous_report: HrmReport, *, message: Message, attachment: Attachment | None = None
) -> HrmReport:
    """A new version of ``previous_report`` (the latest of its chain) carrying ``message``'s
    typed text (``attachment`` None) or ``attachment``, for the same recipient under the same
    report number, in the caller's transaction; the caller enqueues it. A predecessor not yet
    sent is cancelled."""
    _latest_or_error(previous_report)
    report_cancel_if_unsent(previous_report)
    row = _version_row(previous_report, message=message, attachment=attachment)
    return _insert(message, [_Planned(row, "A" if attachment is None else f"A{attachment.pk}")])[0]


def report_withdrawal_create(
    previous_report: HrmReport,
    *,
    actor: User,
    reason: str,
    withdrawn_at: datetime | None = None,
) -> HrmReport | None:
    """Withdraw ``previous_report`` (the latest of its chain) from the recipient's EMR: a
    withdrawal version saying so, in the caller's transaction (the caller enqueues it); or
    nothing when no version of it ever left (it is cancelled instead)."""
    _reason_or_error(reason)
    _latest_or_error(previous_report)
    planned = _withdrawal_planned(
        previous_report, actor=actor, reason=reason, withdrawn_at=withdrawn_at or timezone.now()
    )
    if planned is None:
        return None
    return _insert(previous_report.message, [planned])[0]


def _latest_reports(message: Message) -> list[HrmReport]:
    """The latest version of each of ``message``'s reports (one per part and recipient)."""
    return list(
        HrmReport.objects.filter(message=message, next_version__isnull=True)
        .select_related("attachment", "message", "previous_version")
        .order_by("attachment_id", "recipient_id", "id")
    )


def _reports_withdraw(
    message: Message,
    reports: list[HrmReport],
    *,
    actor: User,
    reason: str,
    withdrawn_at: datetime | None,
) -> list[HrmReport]:
    _reason_or_error(reason)
    withdrawn_at = withdrawn_at or timezone.now()
    planned = []
    for report in reports:
        if report.withdrawal_text:
            continue  # withdrawn already
        item = _withdrawal_planned(report, actor=actor, reason=reason, withdrawn_at=withdrawn_at)
        if item is not None:
            planned.append(item)
    return _insert(message, planned)


def message_reports_withdraw(
    message: Message, *, actor: User, reason: str, withdrawn_at: datetime | None = None
) -> list[HrmReport]:
    """Withdraw every part of ``message`` from every EMR it went to, each recipient's copy alike
    (one withdrawal text and one EventDateTime per part, so the files of a part differ only in
    TransactionInformation); parts that never left are cancelled. Returns the withdrawal
    versions, to enqueue."""
    return _reports_withdraw(
        message, _latest_reports(message), actor=actor, reason=reason, withdrawn_at=withdrawn_at
    )


def message_part_withdraw(
    message: Message,
    attachment: Attachment | None,
    *,
    actor: User,
    reason: str,
    withdrawn_at: datetime | None = None,
) -> list[HrmReport]:
    """Withdraw one part of ``message`` (``attachment``, or its typed text for ``None``) from
    every EMR it went to, as ``message_reports_withdraw`` does for them all."""
    wanted = None if attachment is None else attachment.pk
    reports = [report for report in _latest_reports(message) if report.attachment_id == wanted]
    return _reports_withdraw(
        message, reports, actor=actor, reason=reason, withdrawn_at=withdrawn_at
    )


def message_reports_amend(
    old_message: Message,
    new_message: Message,
    *,
    actor: User,
    recipients: Iterable[Listing],
    attachments: Iterable[Attachment],
    replaced_attachments: Mapping[int, Attachment],
) -> list[HrmReport]:
    """The reports of ``new_message``, the amendment of ``old_message``, in one dated insert:

    - each part carried on (the typed text, when both have one; each attachment of
      ``replaced_attachments``, old attachment id to the new message's attachment) becomes a
      new version of the old part's report, for each recipient it went to;
    - each part removed is withdrawn (``report_withdrawal_create``), or cancelled if never sent;
    - each part added is a new report for ``recipients`` (the live stakeholders).

    Returns the new rows, to enqueue."""
    attachments = list(attachments)
    now = timezone.now()
    planned: list[_Planned] = []
    kept_new_ids = {attachment.pk for attachment in replaced_attachments.values()}
    for report in _latest_reports(old_message):
        if report.withdrawal_text:
            continue  # withdrawn already: nothing to carry on
        if report.attachment_id is None:
            carried = bool(new_message.text)
            new_attachment = None
        else:
            new_attachment = replaced_attachments.get(report.attachment_id)
            carried = new_attachment is not None
        if carried:
            report_cancel_if_unsent(report)
            row = _version_row(report, message=new_message, attachment=new_attachment)
            part = "T" if new_attachment is None else f"A{new_attachment.pk}"
            planned.append(_Planned(row, part))
        else:
            item = _withdrawal_planned(
                report,
                actor=actor,
                reason="Removed from the message when its author amended it.",
                withdrawn_at=now,
            )
            if item is not None:
                planned.append(item)
    old_had_text = HrmReport.objects.filter(message=old_message, attachment__isnull=True).exists()
    added = [
        part
        for part in message_parts(new_message, attachments)
        if (part.attachment is None and not old_had_text)
        or (part.attachment is not None and part.attachment.pk not in kept_new_ids)
    ]
    for part in added:
        report_number = report_number_for(new_message, part.key)
        for listing in recipients:
            row = HrmReport(
                message=new_message,
                attachment=part.attachment,
                recipient=listing,
                deliver_to_user_id=listing.clinician_professional_id,
                recipient_name=listing.clinician_name,
                transaction_id=transaction_id_for(report_number, listing.clinician_professional_id),
                report_number=report_number,
                xml=b"",
            )
            planned.append(_Planned(row, part.key))
    return _insert(new_message, planned)
