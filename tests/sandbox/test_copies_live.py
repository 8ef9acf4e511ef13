"""A listing the referral is copied to, live on HRM, receives each message in its own EMR through
the real Celery worker and SFTP server, with its own report and status per part."""

import subprocess

import pytest

from hrm.models import HrmReceiver, HrmReport
from referrals import services
from sandbox.models import EmrProvider
from sandbox.selectors import emr_inbox_documents
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll

from ..delivery_fixtures import AES_KEY, wait_for
from ..factories import make_listing, make_site, make_user, pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_copied_live_listing_gets_its_own_reports_and_statuses(live, worker, hrm_sftp):
    world, referral = live.world, live.referral
    site = make_site("Riverside Physiotherapy")
    make_user(site, "pt.roy")
    physio = make_listing(
        site,
        "Riverside Physio",
        clinician_first_name="Hélène",
        clinician_surname="Roy",
        clinician_professional_id="D24680",
    )
    HrmReceiver.objects.create(professional_id="D24680", first_name="Hélène", last_name="Roy")
    services.referral_copy_add(referral=referral, listing=physio, actor=world.referrer)
    sandbox_charts_sync()

    message = services.message_post(
        referral=referral,
        author=world.specialist,
        text="Booked for May 2.",
        files=[pdf_upload("Consultation letter.pdf")],
    )
    copies = message.hrm_reports.filter(recipient=physio)
    assert copies.count() == 2  # the text and the PDF, for the copied listing alone
    assert message.hrm_reports.count() == 6  # and for the referrer and the intake
    wait_for(
        lambda: set(message.hrm_reports.values_list("status", flat=True)) == {"sent"},
        timeout=90,
        message="the worker to deliver all six reports",
    )
    assert {report.recipient_name for report in copies} == {"Hélène Roy"}
    assert set(copies.values_list("status", flat=True)) == {HrmReport.Status.SENT}

    sandbox_poll(hrm_sftp.login, AES_KEY, profile="open-o")
    provider = EmrProvider.objects.get(professional_id="D24680")
    documents = list(emr_inbox_documents(provider))
    assert sorted(d.format for d in documents) == ["Binary", "Text"]
    assert any("Booked for May 2." in d.text for d in documents if d.format == "Text")


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_typed_text_goes_as_the_addendum_letter_when_the_authors_site_says_so(
    live, worker, hrm_sftp, settings, tmp_path, profile
):
    # The setting is the author's site's (the specialist writes for the hospital's cardiology).
    site = live.world.cardiology.site
    site.text_as_addendum_letter = True
    site.save()
    sandbox_charts_sync()
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen today. Plan: echo."
    )
    assert message.hrm_reports.count() == 2  # the referrer's and the intake's EMRs
    wait_for(
        lambda: set(message.hrm_reports.values_list("status", flat=True)) == {"sent"},
        timeout=90,
        message="the worker to deliver both letters",
    )

    sandbox_poll(hrm_sftp.login, AES_KEY, profile=profile)
    for professional_id in ("D12345", "N1234567"):
        provider = EmrProvider.objects.get(professional_id=professional_id)
        (document,) = emr_inbox_documents(provider)
        assert (document.format, document.file_extension) == ("Binary", ".pdf")
        assert not document.is_hidden, document.hidden_reason
        assert document.patient is not None, "linked to the patient's chart"
        letter = tmp_path / f"{professional_id}.pdf"
        letter.write_bytes(bytes(document.file_data))
        text = subprocess.run(
            ["pdftotext", str(letter), "-"], check=True, capture_output=True, text=True
        ).stdout
        assert "Seen today. Plan: echo." in text
        assert "Tremblay, Hélène" in text
        assert "François Lee, Professional ID CPSO 67890" in text
