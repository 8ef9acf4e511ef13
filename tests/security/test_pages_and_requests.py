"""Pages with patient data are never stored, the status poll does not keep a session alive,
the public page is throttled and bounded, request bodies are refused before they are read, and
every page carries a Content-Security-Policy."""

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from referrals.models import Referral

from ..factories import PATIENT

MB = 1024 * 1024


def _no_store(response):
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    "persona", ["referrer", "specialist", "colleague", "intake", "stranger", "superuser"]
)
def test_every_page_with_patient_data_is_no_store(
    request, world, referral, client_for, persona, superuser
):
    user = superuser if persona == "superuser" else getattr(world, persona)
    client = client_for(user)
    urls = [
        "/referrals/",
        referral.get_absolute_url(),
        f"/referrals/{referral.pk}/hrm-status/",
        "/directory/account/",
        f"/admin/referrals/referral/{referral.pk}/change/",
    ]
    for url in urls:
        response = client.get(url)
        assert _no_store(response), (url, response.status_code)
        assert "private" in response["Cache-Control"]


def test_the_public_form_and_sign_in_are_no_store(world, client):
    for url in (f"/referrals/listings/{world.intake_listing.pk}/refer/", "/login/"):
        assert _no_store(client.get(url))


def test_every_page_has_a_content_security_policy(world, referral, client_for, client):
    for http, url in (
        (client, "/login/"),
        (client_for(world.referrer), referral.get_absolute_url()),
        (client_for(world.referrer), "/admin/login/"),
    ):
        policy = http.get(url)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


# --- The status poll is not activity --------------------------------------------------------


def _session_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_the_status_poll_does_not_renew_the_session(world, referral, client_for):
    client = client_for(world.referrer)
    client.get(referral.get_absolute_url())
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(minutes=5))
    before = _session_expiry(client)
    for _ in range(3):
        response = client.get(f"/referrals/{referral.pk}/hrm-status/")
        assert response.status_code == 200 and "messages" in response.json()
        assert "sessionid" not in response.cookies
    assert _session_expiry(client) == before
    # Anything the clinician does renews it.
    client.get(referral.get_absolute_url())
    assert _session_expiry(client) > before + datetime.timedelta(minutes=20)


def test_once_idle_the_poll_is_signed_out_too(world, referral, client_for):
    client = client_for(world.referrer)
    client.get(referral.get_absolute_url())
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get(f"/referrals/{referral.pk}/hrm-status/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get(referral.get_absolute_url()).status_code == 302


# --- The public page ------------------------------------------------------------------------


def _public_post(client, listing, **changes):
    data = {
        **PATIENT,
        "patient_province": "ON",
        "referrer_name": "Dr. Walk-in",
        "referrer_email": "walkin@example.org",
        **changes,
    }
    return client.post(f"/referrals/listings/{listing.pk}/refer/", data)


def test_the_public_page_is_throttled_per_address(world):
    client = Client()
    statuses = [_public_post(client, world.intake_listing).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert Referral.objects.filter(referrer_signed_in=False).count() == 5
    response = _public_post(client, world.intake_listing)
    assert "Too many referrals sent from here" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    # Another address is not held back; reading the form is never throttled.
    assert _public_post(Client(REMOTE_ADDR="10.1.2.3"), world.intake_listing).status_code == 200
    assert client.get(f"/referrals/listings/{world.intake_listing.pk}/refer/").status_code == 200


def test_the_public_page_is_throttled_per_listing_from_many_addresses(world, settings):
    settings.PUBLIC_REFERRAL_LIMIT_PER_LISTING = 3
    statuses = [
        _public_post(Client(REMOTE_ADDR=f"10.0.0.{n}"), world.intake_listing).status_code
        for n in range(1, 6)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_the_reason_is_bounded(world):
    response = _public_post(Client(), world.intake_listing, reason="x" * 5001)
    assert response.status_code == 200
    assert "Ensure this value has at most 5000 characters" in response.content.decode()
    assert not Referral.objects.exists()
    assert _public_post(Client(), world.intake_listing, reason="x" * 5000).status_code == 200
    assert Referral.objects.get().reason == "x" * 5000


def test_a_signed_in_referral_reason_is_bounded_too(world, client_for):
    response = client_for(world.referrer).post(
        "/referrals/new/",
        {
            **PATIENT,
            "patient_province": "ON",
            "referrer_listing": world.practice_listing.pk,
            "target_listing": world.cardiology.pk,
            "reason": "x" * 5001,
        },
    )
    assert response.status_code == 200 and not Referral.objects.exists()


# --- Request bodies are bounded before they are read -----------------------------------------


def test_a_huge_anonymous_post_to_sign_in_is_refused_unread(client):
    body = b"x" * (30 * MB)
    response = client.generic(
        "POST", "/login/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_a_huge_multipart_post_to_sign_in_is_refused_unread(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x.bin", b"0" * (30 * MB))
    response = client.post("/login/", {"username": "a", "password": "b", "file": upload})
    assert response.status_code == 413


def test_an_upload_past_the_referral_limit_is_refused_before_reading(world, referral, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("huge.pdf", b"%PDF-1.4\n" + b"0" * (60 * MB))
    response = client_for(world.referrer).post(
        f"/referrals/{referral.pk}/messages/", {"text": "x", "files": [upload]}
    )
    assert response.status_code == 413
    assert not referral.messages.exists()


def test_a_stranger_cannot_use_the_upload_allowance(world, referral, client_for, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.pdf", b"%PDF-1.4\n" + b"0" * (3 * MB))
    # Anonymous: bounded like any other anonymous request, never read.
    response = client.post(f"/referrals/{referral.pk}/messages/", {"files": [upload]})
    assert response.status_code == 413
    upload.seek(0)
    response = client_for(world.stranger).post(
        f"/referrals/{referral.pk}/messages/", {"files": [upload]}
    )
    assert response.status_code == 404


def test_the_receiver_list_upload_takes_its_own_larger_limit(superuser, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(superuser)
    rows = "".join(f"CPSO {10000 + n},First{n},Last{n}\n" for n in range(90_000))
    csv_bytes = ("Professional ID,First Name,Last Name\n" + rows).encode()
    assert 2 * MB < len(csv_bytes) < 20 * MB
    upload = SimpleUploadedFile("big.csv", csv_bytes, "text/csv")
    response = client.post("/admin/hrm/receiverimport/upload/", {"file": upload})
    assert response.status_code in (200, 302)
    too_big = SimpleUploadedFile("huge.csv", b"0" * (22 * MB), "text/csv")
    response = client.post("/admin/hrm/receiverimport/upload/", {"file": too_big})
    assert response.status_code == 413
