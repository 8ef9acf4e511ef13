"""End to end, under each EMR the sandbox stands in for: a message with typed text, a PDF, a JPEG
and a plain-text file, posted to a referral with two live stakeholders, goes through the real
Celery worker and the loopback SFTP server, and every report is filed, visible (not hidden as a
prior version, not refused), linked to the patient's chart and shows its author, in each
recipient's inbox. The checkmark means this."""

import pytest

from hrm.models import HrmReport
from referrals import services
from sandbox.models import EmrDocument, EmrProvider, EmrRetrievalLog
from sandbox.selectors import emr_inbox_documents
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll

from ..delivery_fixtures import AES_KEY, wait_for
from ..factories import jpeg_upload, pdf_upload, text_upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_every_part_is_filed_and_shown_in_each_recipients_emr(live, worker, hrm_sftp, profile):
    sandbox_charts_sync()
    message = services.message_post(
        referral=live.referral,
        author=live.world.specialist,
        text="Seen today <b>&</b> booked.\nPlan: stress test.",
        files=[pdf_upload("Consultation letter.pdf"), jpeg_upload(), text_upload()],
    )
    reports = list(message.hrm_reports.all())
    assert len(reports) == 8  # four parts, two live stakeholders
    wait_for(
        lambda: set(message.hrm_reports.values_list("status", flat=True)) == {"sent"},
        timeout=90,
        message="the worker to deliver all eight reports",
    )

    result = sandbox_poll(hrm_sftp.login, AES_KEY, profile=profile)

    refusals = EmrRetrievalLog.objects.filter(outcome="refused").values_list("error", flat=True)
    assert list(refusals) == []
    assert result.refused == 0 and result.duplicate == 0
    for professional_id in ("D12345", "N1234567"):
        provider = EmrProvider.objects.get(professional_id=professional_id)
        documents = list(emr_inbox_documents(provider))
        assert len(documents) == 4, (profile, professional_id)
        for document in documents:
            assert not document.is_hidden, (profile, document.hidden_reason)
            assert document.patient is not None, "linked to the patient's chart"
            assert document.emr_profile == profile
            assert not document.text_markup
            if profile != "oscar":  # OSCAR's report page shows no author at all
                assert "Lee" in document.author_name and "François" in document.author_name
        kinds = sorted((d.format, d.file_extension) for d in documents)
        assert kinds == [
            ("Binary", ".jpeg"),
            ("Binary", ".pdf"),
            ("Text", "From OMD Report Manager"),
            ("Text", "From OMD Report Manager"),
        ]
        texts = sorted(d.text.replace("\u2060", "") for d in documents if d.format == "Text")
        assert texts == [
            "Attached file: notes.txt\n\nBlood pressure 120/80\nPlan: echo",
            "Seen today <b>&</b> booked.\nPlan: stress test.",
        ]
    # OSCAR and Open-O file one document per part and route it to the second clinician; Juno
    # files each recipient's copy.
    assert EmrDocument.objects.count() == (8 if profile == "juno" else 4)
    assert {r.status for r in HrmReport.objects.filter(message=message)} == {"sent"}
