"""The sandbox EMR inbox in a real browser: a letter sent in the referral, delivered by the real
Celery worker through the loopback SFTP server and filed by the sandbox EMR, is read and
downloaded there; a report that matches no chart is flagged in words.

Under the default profile, Open-O: typed markup arrives guarded and each part of a message has
its own EventDateTime, so nothing is flagged or hidden; the author shows as Open-O shows it."""

import pytest
from playwright.sync_api import expect

from hrm.models import HrmReport
from referrals import services
from sandbox.models import EmrPatient
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll

from ..delivery_fixtures import AES_KEY, wait_for
from ..factories import PASSWORD, pdf_upload
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def deliver_and_poll(live, hrm_sftp, text, files=()):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text=text, files=list(files)
    )
    expected = [HrmReport.Status.SENT] * message.hrm_reports.count()
    wait_for(
        lambda: list(message.hrm_reports.values_list("status", flat=True)) == expected,
        message="the worker to deliver every report",
    )
    sandbox_poll(hrm_sftp.login, AES_KEY)
    return message


def test_a_clinician_reads_and_downloads_a_letter_in_the_sandbox_emr(
    live, worker, hrm_sftp, live_server, page, settings, artifacts_dir
):
    settings.HRM_SANDBOX_ENABLED = True
    sandbox_charts_sync()
    message = deliver_and_poll(
        live,
        hrm_sftp,
        "Seen today <b>not bold</b>.\nPlan: stress test.",
        [pdf_upload("Consultation letter.pdf", ["Consultation letter", "Plan: stress test"])],
    )
    letter = message.attachments.get()
    # The EMR's chart disagrees about the patient's sex: the next report cannot be linked.
    EmrPatient.objects.update(sex="M")
    addendum = deliver_and_poll(live, hrm_sftp, "Addendum: echo booked.")

    sign_in(page, live_server, "dr.nguyen", PASSWORD)
    page.goto(f"{live_server.url}/sandbox/emr/")
    # Her own inbox, as her EMR opens on it: not a list of everyone's.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your inbox in the sandbox EMR (Alice Nguyen, D12345)"
    )

    inbox = page.locator("article.emr-document")
    expect(inbox).to_have_count(3)
    text_report = inbox.filter(has_text="Plan: stress test.").filter(has_text="Seen today")
    # Shown as typed; an invisible word joiner keeps "<b" from being a tag in OSCAR.
    expect(text_report.get_by_label("Report text")).to_have_text(
        "Seen today <\u2060b>not bold<\u2060/b>.\nPlan: stress test.", use_inner_text=True
    )
    expect(text_report).to_contain_text("Linked to chart #")
    expect(text_report.get_by_role("note")).to_have_count(0)  # not hidden, nothing to flag
    expect(text_report.locator(".emr-author")).to_have_text("Lee François (as Open-O shows it)")
    expect(page.locator(".sandbox-banner .emr-profile")).to_have_text("Open-O")
    letter_report = inbox.filter(has_text="Download Tremblay-Hélène-Consultant_Report.pdf")
    expect(letter_report.get_by_role("note")).to_have_count(0)

    with page.expect_download() as caught:
        page.get_by_role("link", name="Download Tremblay-Hélène-Consultant_Report.pdf").click()
    download = caught.value
    assert download.suggested_filename == "Tremblay-Hélène-Consultant_Report.pdf"
    with open(download.path(), "rb") as saved, letter.file.open("rb") as sent:
        assert saved.read() == sent.read()

    transaction_id = addendum.hrm_reports.get(deliver_to_user_id="D12345").transaction_id
    unmatched = inbox.filter(has_text=transaction_id)
    expect(unmatched.get_by_role("note").filter(has_text="Not linked")).to_have_text(
        "⚠ Not linked to a patient: no chart matches health card, last name, sex and date of birth."
    )
    expect(unmatched).to_contain_text("Addendum: echo booked.")
    page.screenshot(path=str(artifacts_dir / "sandbox-emr-inbox.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_clinician_sees_what_hrms_server_refused_beside_what_the_emr_refused(
    live, worker, hrm_sftp, live_server, browser, settings, width
):
    settings.HRM_SANDBOX_ENABLED = True
    sandbox_charts_sync()
    hrm_sftp.refuse_deliver_to("D12345")  # HRM's server does not know Dr. Nguyen
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen today.", files=[]
    )
    refused = message.hrm_reports.get(deliver_to_user_id="D12345")
    wait_for(
        lambda: HrmReport.objects.get(pk=refused.pk).status == HrmReport.Status.FAILED,
        message="HRM's server to refuse the report",
    )

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, live_server, "dr.nguyen", PASSWORD)
        page.goto(f"{live_server.url}/sandbox/emr/")
        expect(page.get_by_role("note").first).to_contain_text("Practice EMR, for the demo only.")
        table = page.get_by_role("table", name="newest first")
        row = table.get_by_role("row").filter(has_text=refused.transaction_id)
        expect(row.get_by_role("cell").nth(1)).to_have_text("HRM's server")
        expect(row).to_contain_text("HRM refused the file for Alice Nguyen while accepting others")
        expect(row).not_to_contain_text("127.0.0.1")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
