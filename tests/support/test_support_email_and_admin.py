"""Support hears of UPI requests by email; the admin reads as the product does; searches ignore
case and accents."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from hrm.senders import services as senders
from referrals.selectors import referral_inbox

from ..admin_pages import admin_search
from ..factories import make_referral, make_user


@pytest.fixture
def asking(world):
    world.specialist.hrm_upi = "UPI-4471"
    world.specialist.save()
    return world.specialist


def test_a_request_for_hrm_sending_emails_support_once(
    world, asking, settings, django_capture_on_commit_callbacks
):
    settings.HRM_SUPPORT_EMAILS = ["hrm-support@ereferral.example", "second@ereferral.example"]
    site = world.cardiology.site
    with django_capture_on_commit_callbacks(execute=True):
        approval = senders.sender_approval_request(user=asking, site=site)
        senders.sender_approval_request(user=asking, site=site)  # a double click: no second email
    assert sorted(m.to[0] for m in mail.outbox) == [
        "hrm-support@ereferral.example",
        "second@ereferral.example",
    ]
    email = mail.outbox[0]
    assert "François Lee" in email.subject and "St. Brigid's Hospital" in email.subject
    assert "UPI-4471" in email.body
    assert f"/admin/hrm/senderapproval/{approval.pk}/change/" in email.body


def test_without_a_support_address_the_staff_who_decide_approvals_are_emailed(
    world, asking, settings, django_capture_on_commit_callbacks
):
    settings.HRM_SUPPORT_EMAILS = []
    decider = make_user(username="decider", is_staff=True, email="decider@ereferral.example")
    decider.user_permissions.add(Permission.objects.get(codename="change_senderapproval"))
    make_user(username="viewer", is_staff=True, email="viewer@ereferral.example")
    make_user(username="boss", is_staff=True, is_superuser=True, email="boss@ereferral.example")
    make_user(username="gone", is_staff=True, is_superuser=True, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        senders.sender_approval_request(user=asking, site=world.cardiology.site)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "boss@ereferral.example",
        "decider@ereferral.example",
    ]


def test_the_admin_labels_and_ids_read_as_the_product_does(world, client_for):
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    client = client_for(admin)
    index = client.get("/admin/").content.decode()
    for label in ("HRM reports", "HRM receivers", "HRM message decisions", "HRM delivery attempts"):
        assert f">{label}<" in index, label
    assert "Hrm " not in index
    users = client.get("/admin/directory/user/").content.decode()
    assert "CPSO 12345" in users and "CNO 1234567" in users
    assert not re.search(r">D12345<", users)
    found = admin_search(client, "/admin/directory/user/", "CPSO 67890").content.decode()
    assert "dr.lee" in found and "dr.nguyen" not in found
    listings = client.get("/admin/directory/listing/").content.decode()
    assert ">D12345<" not in listings


def test_searches_ignore_case_and_accents(world, client_for):
    make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Olivia",
        patient_last_name="Côté",
    )
    make_referral(world.referrer, world.practice_listing, world.cardiology)  # Hélène Tremblay

    def found(q):
        return [r.patient_last_name for r in referral_inbox(world.referrer, folder="sent", query=q)]

    assert found("cote") == ["Côté"]
    assert found("CÔTÉ") == ["Côté"]
    assert found("olivia cote") == ["Côté"]
    assert found("helene") == ["Tremblay"]
    assert found("Hélène") == ["Tremblay"]
    assert found("zzz") == []
    client = client_for(world.referrer)
    page = client.post("/referrals/", {"folder": "sent", "q": "cote"}, follow=True)
    assert "Côté" in page.content.decode() and "Tremblay, Hélène" not in page.content.decode()
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    listing = admin_search(client_for(admin), "/admin/referrals/referral/", "cote").content.decode()
    assert "Côté" in listing and "Tremblay" not in listing
