"""Send with stakeholders that share a Professional ID, and data stored before today's limits:
Send never fails and never loses the message, and a report that cannot be built says why."""

import pytest

from hrm.delivery.connections import transport_get
from hrm.delivery.services.outbox import report_deliver
from hrm.delivery.services.recording import Outcome
from hrm.models import HrmReport
from referrals.models import Message, Referral

from ..delivery_fixtures import delivered_files
from ..factories import composed, pdf_upload


def test_send_to_two_stakeholder_listings_sharing_a_professional_id(live, client_for):
    world = live.world
    world.intake_listing.clinician_first_name = "Alice"
    world.intake_listing.clinician_surname = "Nguyen"
    world.intake_listing.clinician_professional_id = "D12345"
    world.intake_listing.save()
    client = client_for(world.specialist)
    response = client.post(
        f"/referrals/{live.referral.pk}/messages/",
        composed(client, live.referral, text="Seen today.", files=[pdf_upload()]),
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.text == "Seen today." and message.attachments.count() == 1
    assert sorted(message.hrm_reports.values_list("deliver_to_user_id", flat=True)) == [
        "D12345",
        "D12345",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_name_stored_before_the_limits_fails_with_a_reason_the_author_can_read(
    live, hrm_sftp, client_for
):
    # Stored before names were limited at entry: 52 characters as the EMRs count them.
    Referral.objects.filter(pk=live.referral.pk).update(patient_last_name="Tremblay-" + "𝓣" * 22)
    client = client_for(live.world.specialist)
    response = client.post(
        f"/referrals/{live.referral.pk}/messages/",
        composed(client, live.referral, text="Seen today."),
    )
    assert response.status_code == 302
    message = Message.objects.get()
    for report in message.hrm_reports.all():
        assert report_deliver(report.pk, transport_get()).outcome is Outcome.FAILED
    assert delivered_files(hrm_sftp) == []
    assert set(message.hrm_reports.values_list("status", flat=True)) == {HrmReport.Status.FAILED}
    details = client_for(live.world.specialist).get(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/"
    )
    page = details.content.decode()
    assert "the patient&#x27;s legal last name is too long: it has 53 characters as the EMRs " in (
        page
    )
    assert "at most 50 are allowed" in page
