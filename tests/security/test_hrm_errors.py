"""HRM delivery errors: support reads the server's details, clinicians read plain words."""

import pytest

from hrm.delivery.connections import transport_get
from hrm.delivery.errors import report_error_for_reader
from hrm.delivery.services.outbox import report_deliver
from hrm.models import ErrorClass, HrmReport
from referrals import services


@pytest.fixture
def failed_report(live, hrm_sftp, settings):
    """A real failure: HRM's SFTP server is down and the report is past its retry window."""
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 0
    hrm_sftp.stop()
    report = message.hrm_reports.first()
    report_deliver(report.pk, transport_get())
    report.refresh_from_db()
    assert report.status == HrmReport.Status.FAILED
    return report


def _server_details(settings):
    return [f"{settings.HRM_SFTP_HOST}:{settings.HRM_SFTP_PORT}", "HRM SFTP server"]


@pytest.mark.parametrize("persona", ["specialist", "colleague", "referrer", "intake"])
def test_clinicians_never_see_the_servers_details(
    live, failed_report, client_for, settings, persona
):
    client = client_for(getattr(live.world, persona))
    message = failed_report.message
    pages = [
        client.get(live.referral.get_absolute_url()).content.decode(),
        client.get(f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/").content.decode(),
        str(client.get(f"/referrals/{live.referral.pk}/hrm-status/").json()),
    ]
    assert all(detail in failed_report.last_error for detail in _server_details(settings))
    for page in pages:
        assert failed_report.transaction_id in page
        # Plain words with the cause and the next step (hrm/delivery/errors.py).
        assert "HRM&#x27;s server could not be reached" in page or (
            "HRM's server could not be reached" in page
        )
        for detail in _server_details(settings):
            assert detail not in page
        assert "refused the connection" not in page


def test_support_sees_the_servers_details(live, failed_report, client_for, superuser, settings):
    page = (
        client_for(superuser)
        .get(f"/admin/hrm/hrmreport/{failed_report.pk}/change/")
        .content.decode()
    )
    for detail in _server_details(settings):
        assert detail in page


def test_a_staff_member_on_the_referral_sees_them_too(live, failed_report, client_for, settings):
    live.world.specialist.is_staff = True
    live.world.specialist.save()
    page = client_for(live.world.specialist).get(live.referral.get_absolute_url())
    assert _server_details(settings)[0] in page.content.decode()


@pytest.mark.parametrize(
    ("error", "error_class", "shown"),
    [
        (
            "The report was not sent because the patient's health card number must be 10 digits.",
            ErrorClass.INVALID,
            "The report was not sent because the patient's health card number must be 10 "
            "digits. Correct this on the referral or in the listing, then re-send.",
        ),
        (
            "Gave up after 9 attempts over 24.0 hours. Last error: HRM SFTP server "
            "hrm.example:22 denied user 'eref' permission to write files in folder '/in'",
            ErrorClass.PERMISSION,
            "HRM refused the file. Either Alice Nguyen is not registered with HRM under CPSO "
            "12345, or HRM's access for this system needs fixing: support has been told and "
            "checks the second; check that Professional ID with Alice Nguyen's office, then "
            "re-send.",
        ),
    ],
    ids=["validation", "gave-up"],
)
def test_the_words_a_clinician_reads(error, error_class, shown):
    report = HrmReport(
        status=HrmReport.Status.FAILED,
        last_error=error,
        error_class=error_class,
        recipient_name="Alice Nguyen",
        deliver_to_user_id="D12345",
        attempts=9,
    )
    assert report_error_for_reader(report, staff=False) == shown
    assert report_error_for_reader(report, staff=True) == error
