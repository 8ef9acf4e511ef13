"""Records nobody rewrites in the admin, approvals that hold who they were given for, and
re-sends that respect a revoked approval."""

import pytest
from django.contrib.auth.models import Permission

from hrm.models import HrmMessageDecision, HrmReport, SenderApproval
from hrm.senders import services as sender_services
from hrm.senders.selectors import user_can_send_via_hrm
from referrals import services
from referrals.models import Attachment, Message, ReferralEvent

from ..factories import pdf_upload

ACCOUNT = "/directory/account/"


@pytest.fixture
def message(world, referral):
    return services.message_post(
        referral=referral, author=world.specialist, text="Letter", files=[pdf_upload()]
    )


def _admin_urls(referral, message):
    attachment = message.attachments.get()
    event = referral.events.first()
    return {
        "message": f"/admin/referrals/message/{message.pk}/",
        "attachment": f"/admin/referrals/attachment/{attachment.pk}/",
        "event": f"/admin/referrals/referralevent/{event.pk}/",
        "referral": f"/admin/referrals/referral/{referral.pk}/",
        "decision": f"/admin/hrm/hrmmessagedecision/{message.hrm_decision.pk}/",
    }


@pytest.mark.parametrize("persona", ["superuser", "support_viewer"])
@pytest.mark.parametrize("record", ["message", "attachment", "event", "referral", "decision"])
def test_sent_records_are_read_only_in_the_admin(
    request, referral, message, client_for, persona, record
):
    client = client_for(request.getfixturevalue(persona))
    url = _admin_urls(referral, message)[record]
    page = client.get(f"{url}change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"{url}change/", {"text": "Rewritten", "kind": "created"}).status_code == 403
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert Message.objects.get(pk=message.pk).text == "Letter"
    assert Attachment.objects.filter(message=message).count() == 1
    assert ReferralEvent.objects.filter(referral=referral).count() == 3
    assert HrmMessageDecision.objects.filter(message=message).exists()


@pytest.mark.parametrize("persona", ["referrer", "stranger"])
def test_clinicians_do_not_reach_the_admin(world, referral, message, client_for, persona):
    client = client_for(getattr(world, persona))
    for url in _admin_urls(referral, message).values():
        response = client.get(f"{url}change/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Approvals hold the name and Professional ID they were given for --------------------------


@pytest.fixture
def approved(world):
    specialist = world.specialist
    specialist.hrm_upi = "UPI67890"
    specialist.save()
    approval = SenderApproval.objects.create(
        user=specialist, site=world.cardiology.site, upi="UPI67890", status="approved"
    )
    assert user_can_send_via_hrm(specialist, world.cardiology.site).can_send
    return approval


def _account_post(client, user, **changes):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "professional_id": user.professional_id_display,
        "hrm_upi": user.hrm_upi,
        **changes,
    }
    return client.post(ACCOUNT, data)


@pytest.mark.parametrize(
    "changes",
    [{"professional_id": "CPSO 11111"}, {"last_name": "Leblanc"}, {"first_name": "Frank"}],
    ids=["professional-id", "surname", "first-name"],
)
def test_changing_who_you_are_suspends_the_approval(world, approved, client_for, changes):
    client = client_for(world.specialist)
    assert _account_post(client, world.specialist, **changes).status_code == 302
    world.specialist.refresh_from_db()
    status = user_can_send_via_hrm(world.specialist, world.cardiology.site)
    assert not status.can_send
    assert "your name or Professional ID has changed since" in " ".join(status.missing)
    page = client.get(ACCOUNT).content.decode()
    assert "request HRM sending for St. Brigid" in page
    # Changing back restores the approval, as with the UPI.
    original = {"professional_id": "CPSO 67890", "first_name": "François", "last_name": "Lee"}
    _account_post(client, world.specialist, **original)
    world.specialist.refresh_from_db()
    assert user_can_send_via_hrm(world.specialist, world.cardiology.site).can_send


def test_a_message_after_a_name_change_goes_without_hrm(live, client_for):
    world = live.world
    world.specialist.last_name = "Leblanc"
    world.specialist.save()
    message = services.message_post(referral=live.referral, author=world.specialist, text="Hi")
    assert not message.hrm_reports.exists()
    assert "your name or Professional ID has changed" in " ".join(message.hrm_decision.reasons)


def test_support_cannot_approve_a_request_made_under_another_name(world, superuser):
    world.specialist.hrm_upi = "UPI67890"
    world.specialist.save()
    approval = sender_services.sender_approval_request(
        user=world.specialist, site=world.cardiology.site
    )
    world.specialist.professional_id = "D11111"
    world.specialist.save()
    with pytest.raises(Exception, match="changed their name or Professional ID"):
        sender_services.sender_approval_approve(approval=approval, actor=superuser)
    # Asking again records the new identity, which support can then approve.
    approval = sender_services.sender_approval_request(
        user=world.specialist, site=world.cardiology.site
    )
    assert approval.professional_id == "D11111"
    sender_services.sender_approval_approve(approval=approval, actor=superuser)
    assert user_can_send_via_hrm(world.specialist, world.cardiology.site).can_send


# --- Re-send and a revoked approval -----------------------------------------------------------


@pytest.fixture
def failed(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    HrmReport.objects.filter(message=message).update(
        status=HrmReport.Status.FAILED, last_error="Gave up."
    )
    return message


def _resend(client, message, **data):
    url = f"/referrals/{message.referral_id}/messages/{message.pk}/hrm/resend/"
    return client.post(url, data, follow=True)


def test_resend_after_the_approval_is_revoked_is_refused(live, failed, superuser, client_for):
    approval = SenderApproval.objects.get(user=live.world.specialist)
    sender_services.sender_approval_revoke(approval=approval, actor=superuser, note="Left")
    for persona in (live.world.specialist, live.world.colleague):
        response = _resend(client_for(persona), failed)
        assert "Not re-sent: Support revoked HRM sending for St. Brigid" in (
            response.content.decode()
        )
    assert set(failed.hrm_reports.values_list("status", flat=True)) == {"failed"}


def test_admin_resend_after_the_approval_is_revoked_is_refused(live, failed, superuser, client_for):
    approval = SenderApproval.objects.get(user=live.world.specialist)
    sender_services.sender_approval_revoke(approval=approval, actor=superuser)
    ids = list(failed.hrm_reports.values_list("pk", flat=True))
    response = client_for(superuser).post(
        "/admin/hrm/hrmreport/",
        {"action": "resend_failed", "_selected_action": ids},
        follow=True,
    )
    # The confirmation page says so, and confirming leaves them failed.
    assert "Not re-sent (2)" in response.content.decode()
    assert "Support revoked HRM sending" in response.content.decode()
    client_for(superuser).post(
        "/admin/hrm/console/resend/",
        {"ids": ",".join(map(str, ids)), "reason": "Try", "confirm": "1"},
    )
    assert set(failed.hrm_reports.values_list("status", flat=True)) == {"failed"}


def test_resend_with_an_approval_still_works(live, failed, client_for):
    response = _resend(client_for(live.world.specialist), failed)
    assert "Re-sending 2 HRM reports." in response.content.decode()
    assert set(failed.hrm_reports.values_list("status", flat=True)) == {"queued"}


@pytest.mark.parametrize("value", ["²", "١", "1.0", "-1", "x"])
def test_a_report_value_that_is_not_ascii_digits_is_a_404(live, failed, client_for, value):
    response = _resend(client_for(live.world.specialist), failed, report=value)
    assert response.status_code == 404


# --- Admin actions need more than staff status ------------------------------------------------


def test_view_only_support_cannot_redrive_reports(live, failed, support_viewer, client_for):
    client = client_for(support_viewer)
    ids = list(failed.hrm_reports.values_list("pk", flat=True))
    page = client.get("/admin/hrm/hrmreport/").content.decode()
    assert "resend_failed" not in page and "enqueue_queued_now" not in page
    for action in ("resend_failed", "enqueue_queued_now"):
        client.post("/admin/hrm/hrmreport/", {"action": action, "_selected_action": ids})
    assert set(failed.hrm_reports.values_list("status", flat=True)) == {"failed"}
    support_viewer.user_permissions.add(Permission.objects.get(codename="change_hrmreport"))
    page = client.get("/admin/hrm/hrmreport/").content.decode()
    assert "resend_failed" in page


def test_view_only_support_reads_but_cannot_decide_receiver_imports(
    world, support_viewer, superuser, client_for
):
    from hrm.receivers.services import receiver_import_create

    upload = receiver_import_create(
        content=b"Professional ID,First Name,Last Name\nCPSO 67890,Fran\xc3\xa7ois,Lee\n",
        file_name="r.csv",
        actor=superuser,
    )
    url = f"/admin/hrm/receiverimport/{upload.pk}/preview/"
    assert client_for(support_viewer).get(url).status_code == 200
    assert client_for(support_viewer).post(url, {"decision": "discard"}).status_code == 403
    world.stranger.is_staff = True
    world.stranger.save()
    assert client_for(world.stranger).get(url).status_code == 403
