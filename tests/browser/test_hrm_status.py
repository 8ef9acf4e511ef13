"""The clinician's HRM icons in a real browser: pending becomes a checkmark without a reload; a
failure shows a red "!" whose details give the Transaction ID and the error, and re-send works."""

import pytest
from playwright.sync_api import expect

from hrm.models import HrmReport
from referrals.sample_files import consultation_letter_pdf

from ..factories import PASSWORD
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def send(page, text, attachment=None):
    page.get_by_role("textbox", name="Message").fill(text)
    if attachment:
        page.get_by_label("Attach files").set_input_files(str(attachment))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Message sent.")
    return page.locator("article.message").last


def test_pending_turns_into_a_checkmark_and_a_failure_can_be_resent(
    live, worker, hrm_sftp, live_server, page, artifacts_dir, tmp_path, settings
):
    letter = tmp_path / "Consultation letter.pdf"
    letter.write_bytes(consultation_letter_pdf(["Consultation letter", "Plan: stress test"]))
    sign_in(page, live_server, "dr.lee", PASSWORD)
    page.goto(f"{live_server.url}/referrals/{live.referral.pk}/")

    # Pending while HRM's server is unreachable, then a checkmark once it is back: no reload.
    hrm_sftp.stop()
    message = send(page, "Seen today. Letter attached.", letter)
    status = message.locator(".hrm-status")
    expect(status.get_by_text("Sending to EMR via HRM")).to_be_visible()
    hrm_sftp.start()
    expect(status.get_by_text("Sent to EMR via HRM")).to_be_visible(timeout=60_000)
    expect(status.locator(".hrm-icon-sent")).to_have_text("✓")

    # A failure: the red "!" with the Transaction ID and the error in the details.
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 2
    hrm_sftp.stop()
    message = send(page, "Addendum: results attached.", letter)
    status = message.locator(".hrm-status")
    expect(status.get_by_text("HRM delivery failed")).to_be_visible(timeout=60_000)
    expect(status.locator(".hrm-icon-failed")).to_have_text("!")
    status.get_by_text("HRM delivery failed").click()
    report = HrmReport.objects.filter(message__text="Addendum: results attached.").first()
    table = status.get_by_role("table", name="HRM delivery of this message")
    expect(table).to_contain_text(report.transaction_id)
    # The clinician reads the cause and the next step, true for a delivery that gave up; the
    # server's own words (address, account, "will retry") stay for support.
    expect(table).to_contain_text("HRM's server could not be reached")
    expect(table).to_contain_text("Re-send it once HRM is back")
    expect(table).not_to_contain_text("will retry")
    expect(table).not_to_contain_text(f"{settings.HRM_SFTP_HOST}:{settings.HRM_SFTP_PORT}")
    expect(table).not_to_contain_text("refused the connection")
    expect(table).to_contain_text("Grace Okafor")
    expect(table).to_contain_text("CNO 1234567")
    page.screenshot(path=str(artifacts_dir / "hrm-failed-details.png"), full_page=True)

    # Re-send once the server is back: the same reports go out and the checkmark appears.
    hrm_sftp.start()
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 24 * 3600
    table.get_by_role("button", name="Re-send").first.click()
    expect(page.get_by_role("status").first).to_contain_text("Re-sending 1 HRM report.")
    status = page.locator("article.message").last.locator(".hrm-status")
    status.get_by_text("HRM delivery failed").click()
    status.get_by_role("button", name="Re-send all failed (3 reports)").click()
    expect(page.get_by_role("status").first).to_contain_text("Re-sending 3 HRM reports.")
    status = page.locator("article.message").last.locator(".hrm-status")
    expect(status.get_by_text("Sent to EMR via HRM")).to_be_visible(timeout=60_000)
    statuses = HrmReport.objects.filter(message=report.message).values_list("status", flat=True)
    assert set(statuses) == {HrmReport.Status.SENT}
