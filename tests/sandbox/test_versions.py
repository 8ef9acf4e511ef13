"""New versions of a message's reports, end to end under each EMR the sandbox stands in for: a
text + PDF message goes through the real Celery worker and the loopback SFTP server, then its
amendment (each part a new version of its report), then the withdrawal of its PDF. Each
recipient's EMR shows one current document per part, with the earlier ones as its prior
versions, and the withdrawn part as the withdrawal text, as each EMR's own document list picks
a chain's current document (``HRMResultsData.isNewer``)."""

import pytest
from django.db import transaction
from django.urls import reverse

from hrm.delivery.errors import clinician_error_text
from hrm.delivery.selectors.messages import HrmIcon, message_hrm_icon
from hrm.delivery.services.queue import reports_enqueue
from hrm.models import HrmReport
from hrm.reports.versions import message_part_withdraw, report_withdrawal_create
from referrals import services
from referrals.attachments import attachment_inspect
from referrals.channels import delivery_channels
from referrals.models import Attachment, Message
from referrals.selectors import referral_stakeholder_listings
from sandbox.models import EmrDocument, EmrProvider, EmrRetrievalLog
from sandbox.selectors import emr_inbox_documents
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll

from ..delivery_fixtures import AES_KEY, wait_for
from ..factories import make_user, pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)
RECIPIENTS = ("D12345", "N1234567")


def amend(old: Message, *, text: str, pdf) -> Message:
    """What the thread's Amend will do (issue 20, the clinician side): a new message replacing
    ``old``, its PDF carried on with a new file, handed to every delivery channel in one
    transaction."""
    old_pdf = old.attachments.get()
    with transaction.atomic():
        new = Message.objects.create(
            referral=old.referral, author=old.author, author_listing=old.author_listing, text=text
        )
        content_type, sha256 = attachment_inspect(pdf)
        new_pdf = Attachment.objects.create(
            message=new,
            file=pdf,
            original_name=pdf.name,
            content_type=content_type,
            size=pdf.size,
            sha256=sha256,
        )
        stakeholders = referral_stakeholder_listings(old.referral)
        for channel in delivery_channels():
            channel.message_amended(
                old,
                new,
                actor=old.author,
                stakeholders=stakeholders,
                attachments=[new_pdf],
                replaced_attachments={old_pdf.pk: new_pdf},
            )
    return new


def delivered(reports, what: str) -> None:
    ids = [report.pk for report in reports]
    wait_for(
        lambda: (
            set(HrmReport.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
        ),
        timeout=120,
        message=f"the worker to deliver {what}",
    )


def poll(hrm_sftp, profile: str) -> None:
    result = sandbox_poll(hrm_sftp.login, AES_KEY, profile=profile)
    refusals = EmrRetrievalLog.objects.filter(outcome="refused").values_list("error", flat=True)
    assert list(refusals) == []
    assert result.refused == 0 and result.duplicate == 0


def inbox(professional_id: str) -> list[EmrDocument]:
    return list(emr_inbox_documents(EmrProvider.objects.get(professional_id=professional_id)))


def by_kind(documents: list[EmrDocument]) -> dict[str, EmrDocument]:
    """The current documents by the part they stand for (the report number's last part)."""
    return {
        document.sending_facility_report_number.rsplit("-", 1)[1][0]: document
        for document in documents
    }


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_an_amended_then_withdrawn_part_shows_as_one_current_document_per_part(
    live, worker, hrm_sftp, profile, client, sandbox_on
):
    sandbox_charts_sync()
    specialist = live.world.specialist
    first = services.message_post(
        referral=live.referral,
        author=specialist,
        text="Seen today. Plan: stress test.",
        files=[pdf_upload("Consultation letter.pdf", lines=("Impression: stable angina",))],
    )
    first_reports = list(first.hrm_reports.all())
    assert len(first_reports) == 4  # two parts, two live stakeholders
    delivered(first_reports, "the first version")
    poll(hrm_sftp, profile)

    # Amend: each part becomes version 2 of its report, same report number, new Transaction ID.
    second = amend(
        first,
        text="Seen today. Plan: stress test, then echo.",
        pdf=pdf_upload("Consultation letter.pdf", lines=("Impression: unstable angina",)),
    )
    versions = list(second.hrm_reports.select_related("previous_version"))
    assert len(versions) == 4
    for version in versions:
        previous = version.previous_version
        assert previous.message == first and version.version == 2
        assert version.report_number == previous.report_number
        assert version.deliver_to_user_id == previous.deliver_to_user_id
        assert version.transaction_id != previous.transaction_id
        assert version.event_at > max(report.event_at for report in first_reports)
    delivered(versions, "the amendment")
    poll(hrm_sftp, profile)

    for professional_id in RECIPIENTS:
        current = by_kind(inbox(professional_id))
        assert set(current) == {"T", "A"}, (profile, professional_id)
        for document in current.values():
            assert not document.is_hidden, (profile, document.hidden_reason)
            assert not document.is_prior_version
            assert document.patient is not None
            priors = list(document.prior_versions.all())
            assert len(priors) == 1, (profile, professional_id)
            assert priors[0].sending_facility_report_number == (
                document.sending_facility_report_number
            )
        assert "then echo" in current["T"].text
        assert "then echo" not in current["T"].prior_versions.get().text
        assert current["A"].format == "Binary"
        assert bytes(current["A"].prior_versions.get().file_data) != bytes(
            EmrDocument.objects.get(pk=current["A"].pk).file_data
        )

    # Withdraw the PDF: a withdrawal version of its report, for each recipient.
    support_reader = make_user(username="withdrawal-reader")
    with transaction.atomic():
        withdrawals = message_part_withdraw(
            second,
            second.attachments.get(),
            actor=specialist,
            reason="Sent for the wrong patient.",
        )
        reports_enqueue([report.pk for report in withdrawals])
    assert {w.version for w in withdrawals} == {3}
    delivered(withdrawals, "the withdrawal")
    poll(hrm_sftp, profile)

    name = f"{specialist.first_name} {specialist.last_name}"
    for professional_id in RECIPIENTS:
        documents = inbox(professional_id)
        current = by_kind(documents)
        assert len(documents) == 2, (profile, professional_id)
        withdrawn = current["A"]
        # Every EMR lists the withdrawal in place of the PDF: a text report saying what was
        # withdrawn, by whom, when and why; the PDF versions one click away.
        assert withdrawn.format == "Text"
        assert withdrawn.text.startswith("WITHDRAWN")
        assert "attached file Consultation letter.pdf" in withdrawn.text
        assert f"withdrawn by {name}" in withdrawn.text
        assert "Reason: Sent for the wrong patient." in withdrawn.text
        assert not withdrawn.is_hidden, (profile, withdrawn.hidden_reason)
        assert [d.format for d in withdrawn.prior_versions.all()] == ["Binary", "Binary"]
        assert current["T"].prior_versions.count() == 1 and "then echo" in current["T"].text

    client.force_login(support_reader)
    page = client.get(
        reverse(
            "hrm_sandbox:provider_inbox",
            args=[EmrProvider.objects.get(professional_id="D12345").pk],
        )
    ).content.decode()
    assert page.count('<article class="emr-document') == 2 + 3  # two current, three prior
    assert "2 prior versions of this report" in page
    assert "1 prior version of this report" in page
    assert "Sent for the wrong patient." in page


def test_a_part_not_yet_sent_is_cancelled_not_withdrawn(live):
    """No worker runs: the message's reports are still queued, so withdrawing the message sends
    nothing and the reports never leave."""
    message = services.message_post(
        referral=live.referral,
        author=live.world.specialist,
        text="Booked for Tuesday.",
        files=[pdf_upload()],
    )
    assert set(message.hrm_reports.values_list("status", flat=True)) == {"queued"}
    with transaction.atomic():
        for channel in delivery_channels():
            channel.message_withdrawn(message, actor=live.world.specialist, reason="Duplicate.")
    reports = list(message.hrm_reports.all())
    assert {report.status for report in reports} == {"cancelled"}
    assert HrmReport.objects.count() == 4  # no withdrawal version: nothing reached an EMR
    # Beside the message: no icon and no failure, as for a message HRM never carried.
    assert message_hrm_icon(reports) == HrmIcon.NONE
    assert {clinician_error_text(report) for report in reports} == {""}


def test_a_withdrawal_says_why_or_is_refused(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Booked for Tuesday."
    )
    report = message.hrm_reports.first()
    with pytest.raises(ValueError, match="needs a reason"):
        report_withdrawal_create(report, actor=live.world.specialist, reason="  ")
    assert message.hrm_reports.get(pk=report.pk).status == "queued"
