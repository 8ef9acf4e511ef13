"""The sender side of versions: an amendment keeps each part's report number and recipient under a
new Transaction ID and a later time, a removed part is withdrawn, an added part is a new report;
only the latest version of a report can be replaced; a withdrawal's file is a valid report."""

import pytest
from django.db import transaction
from lxml import etree

from hrm.models import HrmMessageDecision, HrmReport
from hrm.reports.services import report_xml_build
from hrm.reports.versions import ReportNotLatest, report_version_create
from referrals import services
from referrals.attachments import attachment_inspect
from referrals.channels import delivery_channels
from referrals.models import Attachment, Message
from referrals.selectors import referral_stakeholder_listings

from ..factories import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)


def sent(message: Message) -> list[HrmReport]:
    """As if the worker had delivered every report of ``message``."""
    message.hrm_reports.update(status=HrmReport.Status.SENT)
    return list(message.hrm_reports.all())


def amended(old: Message, *, text: str, upload) -> Message:
    """The thread's Amend, removing the old PDF and adding ``upload``."""
    with transaction.atomic():
        new = Message.objects.create(
            referral=old.referral, author=old.author, author_listing=old.author_listing, text=text
        )
        content_type, sha256 = attachment_inspect(upload)
        added = Attachment.objects.create(
            message=new,
            file=upload,
            original_name=upload.name,
            content_type=content_type,
            size=upload.size,
            sha256=sha256,
        )
        for channel in delivery_channels():
            channel.message_amended(
                old,
                new,
                actor=old.author,
                stakeholders=referral_stakeholder_listings(old.referral),
                attachments=[added],
                replaced_attachments={},
            )
    return new


def test_an_amendment_versions_kept_parts_withdraws_removed_ones_and_adds_new_ones(live):
    first = services.message_post(
        referral=live.referral,
        author=live.world.specialist,
        text="Seen today.",
        files=[pdf_upload("Letter.pdf")],
    )
    old = sent(first)
    second = amended(first, text="Seen today; echo booked.", upload=jpeg_upload())

    text_versions = list(second.hrm_reports.filter(attachment__isnull=True))
    added = list(second.hrm_reports.filter(attachment__isnull=False))
    withdrawals = list(first.hrm_reports.exclude(withdrawal_text=""))
    assert len(text_versions) == len(added) == len(withdrawals) == 2  # two live stakeholders

    old_text = {r.deliver_to_user_id: r for r in old if r.attachment_id is None}
    old_pdf = {r.deliver_to_user_id: r for r in old if r.attachment_id is not None}
    for version in text_versions:
        previous = old_text[version.deliver_to_user_id]
        assert version.previous_version == previous and version.version == 2
        assert version.report_number == previous.report_number
        assert version.transaction_id == previous.transaction_id + "-v2"
    for withdrawal in withdrawals:
        previous = old_pdf[withdrawal.deliver_to_user_id]
        assert withdrawal.previous_version == previous
        assert withdrawal.report_number == previous.report_number
        assert "attached file Letter.pdf" in withdrawal.withdrawal_text
        assert "Reason: Removed from the message when its author amended it." in (
            withdrawal.withdrawal_text
        )
    for report in added:
        assert report.previous_version is None and report.version == 1
        assert report.report_number not in {r.report_number for r in old}

    latest_old = max(r.event_at for r in old)
    times = {}
    for report in text_versions + withdrawals + added:
        assert report.event_at > latest_old
        times.setdefault(report.event_at, set()).add(
            (report.message_id, report.attachment_id, report.withdrawal_text != "")
        )
    # One time per part, the same for each recipient: three parts, three times.
    assert len(times) == 3 and all(len(parts) == 1 for parts in times.values())
    assert HrmMessageDecision.objects.get(message=second).attempted
    assert set(second.hrm_reports.values_list("status", flat=True)) == {"queued"}

    # Only the latest version of a report can be replaced.
    with pytest.raises(ReportNotLatest):
        report_version_create(old_text["D12345"], message=second)


def test_a_withdrawals_file_is_a_valid_report_in_the_same_chain(live, settings):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen today."
    )
    sent(message)
    with transaction.atomic():
        for channel in delivery_channels():
            channel.message_withdrawn(message, actor=live.world.specialist, reason="Wrong chart.")
    withdrawal = message.hrm_reports.exclude(withdrawal_text="").first()
    previous = withdrawal.previous_version
    tree = etree.fromstring(report_xml_build(withdrawal))
    namespace = {"cds": tree.nsmap[None]}

    def field(path: str) -> str:
        return tree.findtext(path, namespaces=namespace)

    received = "cds:PatientRecord/cds:ReportsReceived/"
    assert field(received + "cds:SendingFacilityReportNumber") == previous.report_number
    assert field(received + "cds:SendingFacility") == settings.HRM_SENDING_FACILITY
    assert field(received + "cds:ResultStatus") == "S"
    assert field(received + "cds:Format") == "Text"
    text = "".join(tree.find(received + "cds:Content", namespaces=namespace).itertext())
    assert text.startswith("WITHDRAWN") and "Reason: Wrong chart." in text
    transaction_info = "cds:PatientRecord/cds:TransactionInformation/"
    assert field(transaction_info + "cds:MessageUniqueID") == previous.transaction_id + "-v2"
    assert field(transaction_info + "cds:DeliverToUserID") == previous.deliver_to_user_id
