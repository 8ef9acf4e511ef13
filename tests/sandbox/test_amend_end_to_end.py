"""The clinician's Amend and Delete end to end (issue 20): through the thread's pages, the real
Celery worker and the loopback SFTP server into the sandbox's EMR. An amendment that removes the
PDF leaves the EMR one current document for the text, with its prior version, and the PDF
withdrawn."""

import pytest

from hrm.models import HrmReport
from referrals.models import Message
from sandbox.services.charts import sandbox_charts_sync

from ..factories import composed, pdf_upload
from .test_versions import by_kind, delivered, inbox, poll

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("profile", ["oscar"])
def test_amending_away_the_pdf_on_the_page_reaches_the_emr(
    live, worker, hrm_sftp, profile, client, sandbox_on
):
    sandbox_charts_sync()
    specialist = live.world.specialist
    client.force_login(specialist)
    referral = live.referral
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(
            client,
            referral,
            text="Seen today. Plan: stress test.",
            files=[pdf_upload("Consultation letter.pdf", lines=("Impression: stable angina",))],
        ),
    )
    assert response.status_code == 302
    first = Message.objects.get(referral=referral)
    before = max(first.hrm_reports.values_list("pk", flat=True))
    delivered(list(first.hrm_reports.all()), "the first version")
    poll(hrm_sftp, profile)

    # Amend on the thread's page: new text, the PDF's box unticked.
    response = client.post(
        f"/referrals/{referral.pk}/messages/{first.pk}/amend/",
        composed(client, referral, text="Seen today. Plan: echo instead."),
    )
    assert response.status_code == 302
    second = Message.objects.get(previous_version=first)
    assert not second.attachments.exists()
    # The text's new version and the PDF's withdrawal, for each of the two recipients.
    amendment = list(HrmReport.objects.filter(pk__gt=before))
    assert len(amendment) == 4
    delivered(amendment, "the amendment")
    poll(hrm_sftp, profile)

    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Amended on" in page and "Plan: echo instead." in page

    for professional_id in ("D12345", "N1234567"):
        current = by_kind(inbox(professional_id))
        assert set(current) == {"T", "A"}, (profile, professional_id)
        text = current["T"]
        assert "echo instead" in text.text and not text.is_prior_version
        assert "stress test" in text.prior_versions.get().text
        withdrawn = current["A"]
        assert withdrawn.format == "Text" and withdrawn.text.startswith("WITHDRAWN")
        assert "attached file Consultation letter.pdf" in withdrawn.text
        assert [d.format for d in withdrawn.prior_versions.all()] == ["Binary"]


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_deleting_on_the_page_withdraws_each_part_from_every_emr(
    live, worker, hrm_sftp, profile, client, sandbox_on
):
    sandbox_charts_sync()
    specialist = live.world.specialist
    client.force_login(specialist)
    referral = live.referral
    client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(
            client,
            referral,
            text="Seen today. Plan: stress test.",
            files=[pdf_upload("Consultation letter.pdf", lines=("Impression: stable angina",))],
        ),
    )
    message = Message.objects.get(referral=referral)
    before = max(message.hrm_reports.values_list("pk", flat=True))
    delivered(list(message.hrm_reports.all()), "the message")
    poll(hrm_sftp, profile)

    response = client.post(
        f"/referrals/{referral.pk}/messages/{message.pk}/delete/",
        {"reason": "Sent for the wrong patient."},
    )
    assert response.status_code == 302
    withdrawals = list(HrmReport.objects.filter(pk__gt=before))
    assert len(withdrawals) == 4  # each part, for each of the two recipients
    delivered(withdrawals, "the withdrawals")
    poll(hrm_sftp, profile)

    # The thread keeps the marker; another stakeholder reads no content.
    client.force_login(live.world.intake)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Withdrawn by its author on" in page and "Sent for the wrong patient." in page
    assert "stress test" not in page
    for professional_id in ("D12345", "N1234567"):
        current = by_kind(inbox(professional_id))
        assert set(current) == {"T", "A"}, (profile, professional_id)
        for kind, document in current.items():
            assert document.text.startswith("WITHDRAWN"), (profile, professional_id, kind)
            assert "Reason: Sent for the wrong patient." in document.text
            assert not document.is_hidden, (profile, document.hidden_reason)
            assert document.prior_versions.count() == 1
