"""HRM senders: a clinician enters the UPI OntarioMD gave them and asks to send for a site;
support approves, rejects, revokes or enters a UPI directly in the admin; the account page says
where the clinician stands. An approval counts only for the UPI the account has now.
"""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from directory.models import User
from hrm.models import SenderApproval, SenderApprovalLog
from hrm.senders import services as services
from hrm.senders.selectors import user_can_send_via_hrm
from tests.admin_pages import admin_search
from tests.factories import PASSWORD, make_site

ACCOUNT = "/directory/account/"
Status = SenderApproval.Status


@pytest.fixture
def support(db):
    return User.objects.create_superuser(
        "support", "support@example.org", PASSWORD, first_name="Sue", last_name="Port"
    )


@pytest.fixture
def support_client(client, support):
    client.force_login(support)
    return client


@pytest.fixture
def hospital(world):
    site = world.cardiology.site
    site.notification_email = "referrals@stbrigid.example"
    site.save()
    return site


@pytest.fixture
def with_upi(world):
    """Dr. Lee has a Professional ID (from the personas) and now the UPI OntarioMD gave him."""
    world.specialist.hrm_upi = "UPI-4471"
    world.specialist.save()
    return world.specialist


def request_url(site) -> str:
    return f"/directory/account/hrm-sending/{site.pk}/"


def decide_url(approval) -> str:
    return f"/admin/hrm/senderapproval/{approval.pk}/decide/"


def log_of(approval) -> list[tuple[str, str, str, str]]:
    return list(approval.log.values_list("action", "actor_name", "upi", "note"))


def account_page(client) -> str:
    response = client.get(ACCOUNT)
    assert response.status_code == 200
    return response.content.decode()


# --- Where a user stands -----------------------------------------------------------------------


def test_a_user_with_nothing_set_up_is_told_every_missing_piece(world, hospital):
    status = user_can_send_via_hrm(world.colleague, hospital)

    assert status.can_send is False
    assert status.missing == (
        "Add your Professional ID to your Clinical Contact Information.",
        "Add the HRM UPI that OntarioMD's service desk gave you to your Clinical Contact "
        "Information.",
        "Request HRM sending for St. Brigid's Hospital; support then approves your UPI.",
    )
    assert status.can_request is False


def test_a_pending_request_is_waiting_for_support(world, hospital, with_upi):
    services.sender_approval_request(user=with_upi, site=hospital)

    status = user_can_send_via_hrm(with_upi, hospital)

    assert status.can_send is False
    assert status.missing == (
        "Your request for St. Brigid's Hospital (UPI UPI-4471) is waiting for support.",
    )
    assert status.can_request is False


def test_an_approved_upi_and_a_professional_id_let_the_user_send(
    world, hospital, with_upi, support
):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    services.sender_approval_approve(approval=approval, actor=support)

    status = user_can_send_via_hrm(with_upi, hospital)

    assert status.can_send is True
    assert status.missing == ()
    assert status.text == "You can send HRM reports for St. Brigid's Hospital."


def test_an_approval_is_for_one_site_only(world, hospital, with_upi, support):
    other = make_site("Second Clinic")
    with_upi.sites.add(other)
    services.sender_approval_enter(user=with_upi, site=hospital, upi="UPI-4471", actor=support)

    assert user_can_send_via_hrm(with_upi, hospital).can_send is True
    assert user_can_send_via_hrm(with_upi, other).can_send is False
    assert user_can_send_via_hrm(world.colleague, hospital).can_send is False  # not his approval


def test_an_approval_without_a_professional_id_is_not_enough(world, hospital, support):
    services.sender_approval_enter(user=world.colleague, site=hospital, upi="UPI-9", actor=support)

    status = user_can_send_via_hrm(world.colleague, hospital)

    assert status.can_send is False
    assert status.missing == ("Add your Professional ID to your Clinical Contact Information.",)


def test_changing_the_upi_needs_a_new_approval_and_changing_it_back_restores_it(
    world, hospital, with_upi, support
):
    services.sender_approval_enter(user=with_upi, site=hospital, upi="UPI-4471", actor=support)
    with_upi.hrm_upi = "UPI-5000"
    with_upi.save()

    status = user_can_send_via_hrm(with_upi, hospital)
    assert status.can_send is False
    assert status.missing == (
        "Support approved UPI UPI-4471 for St. Brigid's Hospital, but your account's UPI is now "
        "UPI-5000: request HRM sending for St. Brigid's Hospital again.",
    )
    assert status.can_request is True

    with_upi.hrm_upi = "UPI-4471"
    with_upi.save()
    assert user_can_send_via_hrm(with_upi, hospital).can_send is True


def test_someone_outside_the_site_cannot_send_for_it(world, hospital):
    status = user_can_send_via_hrm(world.stranger, hospital)
    assert status.missing == ("You are not a member of St. Brigid's Hospital.",)


# --- The clinician: account page and request ----------------------------------------------------


def test_the_account_page_saves_the_upi_beside_the_professional_id(world, client_for):
    client = client_for(world.specialist)
    page = account_page(client)
    assert page.index('name="professional_id"') < page.index('name="hrm_upi"')

    response = client.post(
        ACCOUNT,
        {
            "first_name": "François",
            "last_name": "Lee",
            "email": "lee@example.org",
            "professional_id": "CPSO 67890",
            "hrm_upi": " UPI-4471 ",
        },
    )

    assert response.status_code == 302
    world.specialist.refresh_from_db()
    assert world.specialist.hrm_upi == "UPI-4471"


def test_the_account_page_refuses_a_malformed_upi(world, client_for):
    response = client_for(world.specialist).post(
        ACCOUNT,
        {
            "first_name": "François",
            "last_name": "Lee",
            "email": "lee@example.org",
            "professional_id": "CPSO 67890",
            "hrm_upi": "UPI 4471!",
        },
    )

    assert response.status_code == 200
    assert "A UPI is the letters and digits OntarioMD" in response.content.decode()
    world.specialist.refresh_from_db()
    assert world.specialist.hrm_upi == ""


def test_a_clinician_asks_for_hrm_sending_from_the_account_page(
    world, hospital, with_upi, client_for
):
    client = client_for(with_upi)
    page = account_page(client)
    assert "Request HRM sending for St. Brigid&#x27;s Hospital" in page

    response = client.post(request_url(hospital), follow=True)

    page = response.content.decode()
    assert "went to support" in page
    assert "is waiting for support" in page
    assert "Request HRM sending for St. Brigid&#x27;s Hospital" not in page
    approval = SenderApproval.objects.get(user=with_upi, site=hospital)
    assert (approval.status, approval.upi) == (Status.PENDING, "UPI-4471")
    assert log_of(approval) == [("requested", "François Lee", "UPI-4471", "")]


def test_asking_twice_changes_nothing(world, hospital, with_upi, client_for):
    client = client_for(with_upi)
    client.post(request_url(hospital))
    client.post(request_url(hospital))

    approval = SenderApproval.objects.get()
    assert approval.log.count() == 1


def test_asking_without_a_upi_says_what_to_do(world, hospital, client_for):
    response = client_for(world.specialist).post(request_url(hospital), follow=True)

    assert "Add the HRM UPI that OntarioMD" in response.content.decode()
    assert SenderApproval.objects.count() == 0


def test_nobody_can_ask_for_a_site_they_do_not_belong_to(world, hospital, client_for):
    world.stranger.hrm_upi = "UPI-1"
    world.stranger.save()
    client = client_for(world.stranger)

    assert client.post(request_url(hospital)).status_code == 404
    assert client.get(request_url(hospital)).status_code == 405
    assert SenderApproval.objects.count() == 0


def test_changing_the_upi_after_approval_warns_and_shows_the_way_back(
    world, hospital, with_upi, support, client_for
):
    services.sender_approval_enter(user=with_upi, site=hospital, upi="UPI-4471", actor=support)
    client = client_for(with_upi)
    assert "✓ You can send HRM reports for St. Brigid&#x27;s Hospital." in account_page(client)

    response = client.post(
        ACCOUNT,
        {
            "first_name": "François",
            "last_name": "Lee",
            "email": "lee@example.org",
            "professional_id": "CPSO 67890",
            "hrm_upi": "UPI-5000",
        },
        follow=True,
    )

    page = response.content.decode()
    assert "Your HRM UPI changed." in page
    assert "You cannot send HRM reports for St. Brigid&#x27;s Hospital yet." in page
    assert "your account&#x27;s UPI is now UPI-5000" in page
    assert "Request HRM sending for St. Brigid&#x27;s Hospital" in page

    client.post(request_url(hospital))
    approval = SenderApproval.objects.get()
    assert (approval.status, approval.upi) == (Status.PENDING, "UPI-5000")
    assert [entry[0] for entry in log_of(approval)] == ["entered", "requested"]


def test_an_invalid_account_edit_does_not_count_its_unsaved_upi(
    world, hospital, with_upi, support, client_for
):
    services.sender_approval_enter(user=with_upi, site=hospital, upi="UPI-4471", actor=support)

    response = client_for(with_upi).post(
        ACCOUNT,
        {
            "first_name": "François",
            "last_name": "Lee",
            "email": "lee@example.org",
            "professional_id": "12345",  # refused: CPSO or CNO is not said
            "hrm_upi": "UPI-5000",
        },
    )

    page = response.content.decode()
    assert "Say whether this is a CPSO or a CNO number" in page
    assert "✓ You can send HRM reports for St. Brigid&#x27;s Hospital." in page
    assert "UPI-5000" in page  # still in the form, to correct
    assert "your account&#x27;s UPI is now UPI-5000" not in page
    assert "Your HRM UPI changed." not in page


# --- Support: decisions in the admin ----------------------------------------------------------


def test_support_sees_pending_requests_and_approves_one_with_a_note(
    world, hospital, with_upi, support_client, support, referral, django_capture_on_commit_callbacks
):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    services.sender_approval_enter(
        user=world.referrer, site=world.practice_listing.site, upi="UPI-1", actor=support
    )
    mail.outbox.clear()

    pending = support_client.get("/admin/hrm/senderapproval/", {"status__exact": "pending"})
    assert "François Lee" in pending.content.decode()
    assert "Alice Nguyen" not in pending.content.decode()
    page = support_client.get(f"/admin/hrm/senderapproval/{approval.pk}/change/").content.decode()
    assert 'value="approve"' in page
    assert 'value="reject"' in page
    assert 'value="revoke"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            decide_url(approval), {"decision": "approve", "note": "Checked with OntarioMD."}
        )

    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == Status.APPROVED
    assert approval.decided_by == support
    assert approval.decided_at is not None
    assert approval.decision_note == "Checked with OntarioMD."
    assert log_of(approval)[-1] == ("approved", "Sue Port", "UPI-4471", "Checked with OntarioMD.")
    assert sorted(address for email in mail.outbox for address in email.to) == [
        "dr.lee@example.org",
        "referrals@stbrigid.example",
    ]
    email = mail.outbox[0]
    assert email.subject == "St. Brigid's Hospital is approved to send HRM reports"
    assert "UPI-4471" in email.body
    assert "http://" in email.body and "/directory/account/" in email.body
    # Approval emails are about the clinician and the site, never about a patient.
    for patient_detail in ("Tremblay", "Hélène", "9876543217"):
        assert all(patient_detail not in e.body + e.subject for e in mail.outbox)
    assert user_can_send_via_hrm(with_upi, hospital).can_send is True


def test_rejecting_needs_a_note_which_the_clinician_is_emailed(
    world, hospital, with_upi, support_client, client_for, django_capture_on_commit_callbacks
):
    approval = services.sender_approval_request(user=with_upi, site=hospital)

    without_note = support_client.post(
        decide_url(approval), {"decision": "reject", "note": "  "}, follow=True
    )
    assert "Say why the request is rejected" in without_note.content.decode()
    approval.refresh_from_db()
    assert approval.status == Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(
            decide_url(approval),
            {"decision": "reject", "note": "OntarioMD has no UPI UPI-4471 for you."},
        )

    approval.refresh_from_db()
    assert approval.status == Status.REJECTED
    assert [email.to for email in mail.outbox] == [["dr.lee@example.org"]]
    assert "OntarioMD has no UPI UPI-4471 for you." in mail.outbox[0].body
    page = account_page(client_for(with_upi))
    assert "Support turned down HRM sending for St. Brigid&#x27;s Hospital" in page
    assert "Request HRM sending for St. Brigid&#x27;s Hospital" in page  # they may ask again


def test_support_revokes_an_approval(
    world, hospital, with_upi, support, support_client, django_capture_on_commit_callbacks
):
    approval = services.sender_approval_enter(
        user=with_upi, site=hospital, upi="UPI-4471", actor=support
    )
    page = support_client.get(f"/admin/hrm/senderapproval/{approval.pk}/change/").content.decode()
    assert 'value="revoke"' in page
    assert 'value="approve"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(decide_url(approval), {"decision": "revoke", "note": "Left the site."})

    approval.refresh_from_db()
    assert approval.status == Status.REVOKED
    assert log_of(approval)[-1] == ("revoked", "Sue Port", "UPI-4471", "Left the site.")
    assert "was revoked" in mail.outbox[0].subject
    status = user_can_send_via_hrm(with_upi, hospital)
    assert status.can_send is False
    assert status.missing == (
        "Support revoked HRM sending for St. Brigid's Hospital: “Left the site.”",
    )


def test_decisions_only_apply_to_the_state_they_were_made_for(world, hospital, with_upi, support):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    with pytest.raises(ValidationError, match="only an approval can be revoked"):
        services.sender_approval_revoke(approval=approval, actor=support)
    services.sender_approval_approve(approval=approval, actor=support)
    with pytest.raises(ValidationError, match="only a pending request can be approved"):
        services.sender_approval_approve(approval=approval, actor=support)
    with pytest.raises(ValidationError, match="only a pending request can be rejected"):
        services.sender_approval_reject(approval=approval, actor=support, note="Too late.")
    assert [entry[0] for entry in log_of(approval)] == ["requested", "approved"]


def test_approving_is_refused_when_the_clinician_changed_their_upi_since_asking(
    world, hospital, with_upi, support_client
):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    with_upi.hrm_upi = "UPI-5000"
    with_upi.save()

    response = support_client.post(decide_url(approval), {"decision": "approve"}, follow=True)

    assert "asked with UPI UPI-4471 but their account&#x27;s UPI is now UPI-5000" in (
        response.content.decode()
    )
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_support_enters_a_upi_directly(
    world, hospital, support, support_client, django_capture_on_commit_callbacks
):
    assert support_client.get("/admin/hrm/senderapproval/enter/").status_code == 200
    assert support_client.get("/admin/hrm/senderapproval/add/")["Location"] == (
        "/admin/hrm/senderapproval/enter/"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            "/admin/hrm/senderapproval/enter/",
            {
                "user": world.specialist.pk,
                "site": hospital.pk,
                "upi": "UPI-4471",
                "note": "Dr. Lee phoned it in.",
            },
        )

    approval = SenderApproval.objects.get()
    assert response["Location"] == f"/admin/hrm/senderapproval/{approval.pk}/change/"
    assert (approval.status, approval.upi, approval.decided_by) == (
        Status.APPROVED,
        "UPI-4471",
        support,
    )
    assert log_of(approval) == [("entered", "Sue Port", "UPI-4471", "Dr. Lee phoned it in.")]
    world.specialist.refresh_from_db()
    assert world.specialist.hrm_upi == "UPI-4471"
    assert len(mail.outbox) == 2
    assert user_can_send_via_hrm(world.specialist, hospital).can_send is True


def test_entering_a_upi_other_than_the_accounts_needs_an_explicit_replace(
    world, hospital, with_upi, support_client
):
    data = {"user": with_upi.pk, "site": hospital.pk, "upi": "UPI-9999"}

    refused = support_client.post("/admin/hrm/senderapproval/enter/", data)

    assert refused.status_code == 200
    assert "account has UPI UPI-4471, not UPI-9999" in refused.content.decode()
    assert SenderApproval.objects.count() == 0

    support_client.post("/admin/hrm/senderapproval/enter/", {**data, "replace_user_upi": "on"})

    with_upi.refresh_from_db()
    assert with_upi.hrm_upi == "UPI-9999"
    assert SenderApproval.objects.get().upi == "UPI-9999"


def test_entering_a_upi_for_someone_outside_the_site_is_refused(world, hospital, support_client):
    response = support_client.post(
        "/admin/hrm/senderapproval/enter/",
        {"user": world.stranger.pk, "site": hospital.pk, "upi": "UPI-1"},
    )

    assert "Sam Stranger is not a member of St. Brigid&#x27;s Hospital" in response.content.decode()
    assert SenderApproval.objects.count() == 0


def test_clinicians_cannot_reach_support_pages_or_decide(world, hospital, with_upi, client_for):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    client = client_for(with_upi)

    for url in ("/admin/hrm/senderapproval/", "/admin/hrm/senderapproval/enter/"):
        assert client.get(url).status_code == 302, url
    assert client.post(decide_url(approval), {"decision": "approve"}).status_code == 302
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_staff_who_may_only_view_approvals_cannot_decide(world, hospital, with_upi):
    from django.contrib.auth.models import Permission
    from django.test import Client

    viewer = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_senderapproval"))
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    client = Client()
    client.force_login(viewer)

    page = client.get(f"/admin/hrm/senderapproval/{approval.pk}/change/").content.decode()
    assert 'value="approve"' not in page
    assert client.post(decide_url(approval), {"decision": "approve"}).status_code == 403
    assert client.get("/admin/hrm/senderapproval/enter/").status_code == 403
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_the_decision_log_is_read_only_in_the_admin(world, hospital, with_upi, support_client):
    approval = services.sender_approval_request(user=with_upi, site=hospital)
    entry = SenderApprovalLog.objects.get()

    listing = admin_search(support_client, "/admin/hrm/senderapprovallog/", "Lee")
    assert listing.status_code == 200
    assert "Requested" in listing.content.decode()
    assert support_client.get("/admin/hrm/senderapprovallog/add/").status_code == 403
    change = support_client.get(f"/admin/hrm/senderapprovallog/{entry.pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert (
        support_client.post(
            f"/admin/hrm/senderapprovallog/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        support_client.post(
            f"/admin/hrm/senderapproval/{approval.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert SenderApprovalLog.objects.count() == 1


def test_the_enter_page_finds_clinicians_by_name(world, support_client):
    response = support_client.get(
        "/admin/autocomplete/",
        {"app_label": "hrm", "model_name": "senderapproval", "field_name": "user", "term": "Lee"},
    )

    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["François Lee"]
