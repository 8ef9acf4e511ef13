"""Names are one line: every name field refuses line breaks and other control characters with a
clear message; and an email that cannot go out is logged, never a 500 after a committed change."""

import logging
import smtplib

import pytest
from django.core import mail

from directory.models import Listing, User
from hrm.models import SenderApproval
from hrm.senders import services as sender_services
from referrals.models import Referral

from ..factories import make_user

ONE_LINE = "A name is one line of text"
REFERRAL = {
    "patient_first_name": "Hélène",
    "patient_last_name": "Tremblay",
    "patient_birth_date": "1961-04-18",
    "patient_sex": "F",
    "patient_health_card_number": "9876-543-217",
    "patient_health_card_version": "ab",
    "patient_province": "ON",
    "reason": "Chest pain",
}


@pytest.mark.parametrize(
    "name", ["Alice\nBcc: x@evil.example", "Al\rice", "Al\tice", "A\x1bB", "A\u2028B", "A\x85B"]
)
def test_my_account_refuses_a_name_with_a_control_character(world, client_for, name):
    response = client_for(world.referrer).post(
        "/directory/account/",
        {"first_name": name, "last_name": "Nguyen", "email": "a@example.org"},
    )
    assert response.status_code == 200
    assert ONE_LINE in response.content.decode()
    world.referrer.refresh_from_db()
    assert world.referrer.first_name == "Alice"


def test_listing_settings_refuse_a_clinician_name_with_a_line_break(world, client_for):
    response = client_for(world.specialist).post(
        f"/directory/listings/{world.cardiology.pk}/settings/",
        {"requires_sign_in": "on", "clinician_surname": "Lee\nMD"},
    )
    assert response.status_code == 200
    assert ONE_LINE in response.content.decode()
    assert Listing.objects.get(pk=world.cardiology.pk).clinician_surname == ""


def test_a_referrals_patient_names_refuse_control_characters(world, client_for):
    response = client_for(world.referrer).post(
        "/referrals/new/",
        {
            **REFERRAL,
            "patient_last_name": "Trem\nblay",
            "referrer_listing": world.practice_listing.pk,
            "target_listing": world.cardiology.pk,
        },
    )
    assert response.status_code == 200
    assert ONE_LINE in response.content.decode()
    assert not Referral.objects.exists()


def test_the_public_form_refuses_a_referrer_name_with_a_line_break(world, client):
    response = client.post(
        f"/referrals/listings/{world.intake_listing.pk}/refer/",
        {**REFERRAL, "referrer_name": "Dr. Omar\nHaddad", "referrer_email": "h@walkin.example"},
    )
    assert response.status_code == 200
    assert ONE_LINE in response.content.decode()
    assert not Referral.objects.exists()


@pytest.fixture
def support(db):
    return make_user(username="support.sam", is_staff=True, is_superuser=True, first_name="Sam")


def test_the_admin_refuses_a_name_with_a_line_break(world, client_for, support):
    user = world.colleague
    response = client_for(support).post(
        f"/admin/directory/user/{user.pk}/change/",
        {
            "username": user.username,
            "first_name": "Priya\nX",
            "last_name": user.last_name,
            "email": user.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert ONE_LINE in response.content.decode()
    user.refresh_from_db()
    assert user.first_name == "Priya"


@pytest.fixture
def broken_name(world):
    """A clinician whose name was saved with a line break before names were checked."""
    User.objects.filter(pk=world.specialist.pk).update(
        first_name="François\n", last_name="Lee\r\nMD", hrm_upi="UPI-4471"
    )
    world.specialist.refresh_from_db()
    return world.specialist


def test_asking_for_hrm_sending_with_a_broken_name_still_emails_support(
    world, broken_name, client_for, settings, django_capture_on_commit_callbacks
):
    settings.HRM_SUPPORT_EMAILS = ["support@ereferral.example"]
    site = world.cardiology.site
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(broken_name).post(f"/directory/account/hrm-sending/{site.pk}/")
    assert response.status_code == 302
    assert SenderApproval.objects.get().status == SenderApproval.Status.PENDING
    [email] = mail.outbox
    assert "\n" not in email.subject and "Lee MD" in email.subject


def test_support_revokes_with_a_broken_name_and_the_email_goes(
    world, broken_name, client_for, support, django_capture_on_commit_callbacks
):
    site = world.cardiology.site
    approval = sender_services.sender_approval_enter(
        user=broken_name, site=site, upi="UPI-4471", actor=support
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(support).post(
            f"/admin/hrm/senderapproval/{approval.pk}/decide/", {"decision": "revoke"}
        )
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == SenderApproval.Status.REVOKED
    [email] = mail.outbox
    assert "was revoked" in email.subject and "\n" not in email.subject


def test_a_mail_server_failure_is_logged_not_a_500(
    world, client_for, support, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    world.specialist.hrm_upi = "UPI-4471"
    world.specialist.save()
    site = world.cardiology.site
    approval = sender_services.sender_approval_enter(
        user=world.specialist, site=site, upi="UPI-4471", actor=support
    )

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"dr.lee@example.org": (550, b"no")})

    monkeypatch.setattr("directory.emails.send_mass_mail", refuse)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = client_for(support).post(
            f"/admin/hrm/senderapproval/{approval.pk}/decide/", {"decision": "revoke"}
        )
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == SenderApproval.Status.REVOKED
    assert "Could not send an email about an HRM approval" in caplog.text
