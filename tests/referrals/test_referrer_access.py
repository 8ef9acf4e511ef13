"""A referrer who was not signed in reads and answers their referral with an emailed code."""

import logging
import re
import smtplib
import time

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client

from audit.models import AccessEntry
from hrm.models import HrmMessageDecision
from referrals import services
from referrals.composer import composer_token_issue
from referrals.models import Message, ReferrerAccessCode
from referrals.referrer_access import SESSION_KEY

from ..factories import PATIENT, jpeg_upload, make_referral

pytestmark = pytest.mark.django_db
REFERRER_EMAIL = "o.haddad@walkin.example"


@pytest.fixture
def public_referral(world):
    return services.referral_create(
        target_listing=world.intake_listing,
        referrer_name="Dr. Omar Haddad",
        referrer_email=REFERRER_EMAIL,
        **PATIENT,
    )


def replied(referral, **data) -> dict:
    """A reply as the follow page posts it: with the composer's one-time token."""
    return {"composer": composer_token_issue(None, referral), **data}


def follow_url(referral):
    return f"/referrals/follow/{referral.reference}/"


def emailed_code(address=REFERRER_EMAIL) -> str:
    sent = [m for m in mail.outbox if m.to == [address] and "code" in m.subject]
    return re.search(r"one-time code is (\d{6})", sent[-1].body).group(1)


def open_with_code(client, referral) -> None:
    client.post(follow_url(referral), {"send": "1"})
    response = client.post(follow_url(referral), {"code": emailed_code()})
    assert response.status_code == 302


def test_the_referrer_is_emailed_the_link_when_sending(
    world, client_for, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        referral = services.referral_create(
            target_listing=world.intake_listing,
            referrer_name="Dr. Omar Haddad",
            referrer_email=REFERRER_EMAIL,
            **PATIENT,
        )
    (email,) = [m for m in mail.outbox if m.to == [REFERRER_EMAIL]]
    assert follow_url(referral) in email.body and "Tremblay" not in email.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        make_referral(world.referrer, world.practice_listing, world.intake_listing)
    assert not [m for m in mail.outbox if "was sent" in m.subject]


def test_replies_email_the_referrer_a_link_without_patient_data(
    world, public_referral, client_for, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(referral=public_referral, author=world.intake, text="Received.")
    (email,) = [m for m in mail.outbox if m.to == [REFERRER_EMAIL]]
    assert f"http://testserver{follow_url(public_referral)}" in email.body or (
        follow_url(public_referral) in email.body
    )
    assert "one-time code" in email.body
    for forbidden in ("Tremblay", "Hélène", "9876543217", "Chest pain"):
        assert forbidden not in email.body and forbidden not in email.subject


def test_the_code_opens_the_thread_and_the_look_is_on_the_access_trail(world, public_referral):
    client = Client()
    page = client.get(follow_url(public_referral)).content.decode()
    assert "Tremblay" not in page and REFERRER_EMAIL not in page
    mail.outbox.clear()
    client.post(follow_url(public_referral), {"send": "1"})
    code = emailed_code()
    stored = ReferrerAccessCode.objects.get()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    response = client.post(follow_url(public_referral), {"code": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 302
    page = client.get(follow_url(public_referral)).content.decode()
    assert "Tremblay, Hélène" in page and "Reply to" in page
    entry = AccessEntry.objects.get(action="viewed", referral_id=public_referral.pk)
    assert entry.actor_username == f"{REFERRER_EMAIL} (referrer, by emailed code)"
    assert entry.patient_name == "Tremblay, Hélène"
    # One use: the same code does not open it again in another browser.
    other = Client()
    assert other.post(follow_url(public_referral), {"code": code}).status_code == 400


def test_a_stranger_with_the_link_learns_nothing(world, public_referral):
    signed_in = make_referral(world.referrer, world.practice_listing, world.cardiology)
    stranger = Client()
    pages = {}
    for name, url in {
        "real": follow_url(public_referral),
        "made up": "/referrals/follow/00000000-0000-4000-8000-000000000000/",
        "signed-in referrer's": follow_url(signed_in),
    }.items():
        mail.outbox.clear()
        stranger.get(url)
        sent = stranger.post(url, {"send": "1"})
        assert sent.status_code == 200
        wrong = stranger.post(url, {"code": "123456"})
        assert wrong.status_code == 400
        text = re.sub(r"/referrals/follow/[^/]+/", "", wrong.content.decode())
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
        pages[name] = text
        assert "Tremblay" not in text and "@" not in text.split("<main")[1]
    assert pages["real"] == pages["made up"] == pages["signed-in referrer's"]
    # Nor the thread's other addresses.
    for url in ("messages/", "attachments/1/"):
        response = stranger.post(follow_url(public_referral) + url, {"text": "hi"})
        assert response.status_code in (302, 404)
    assert not Message.objects.exists()
    assert stranger.get(follow_url(public_referral) + "attachments/1/").status_code == 404


def test_a_code_allows_few_tries_and_expires(world, public_referral, settings):
    client = Client()
    client.post(follow_url(public_referral), {"send": "1"})
    code = emailed_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.REFERRER_CODE_MAX_ATTEMPTS):
        assert client.post(follow_url(public_referral), {"code": wrong}).status_code == 400
    assert client.post(follow_url(public_referral), {"code": code}).status_code == 400
    # A new code works; once expired, it does not.
    mail.outbox.clear()
    client.post(follow_url(public_referral), {"send": "1"})
    code = emailed_code()
    ReferrerAccessCode.objects.filter(used_at__isnull=True).update(
        expires_at="2000-01-01T00:00:00Z"
    )
    response = client.post(follow_url(public_referral), {"code": code})
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_codes_are_throttled_per_client_address(world, public_referral, settings):
    settings.REFERRER_CODE_TRIES_PER_ADDRESS = 3
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        assert client.post(follow_url(public_referral), {"code": "999999"}).status_code == 400
    assert client.post(follow_url(public_referral), {"code": "999999"}).status_code == 429
    # Another address is not held back.
    other = Client(REMOTE_ADDR="203.0.113.10")
    assert other.post(follow_url(public_referral), {"code": "999999"}).status_code == 400
    settings.REFERRER_CODE_SENDS_PER_ADDRESS = 2
    for expected in (200, 200, 429):
        assert client.post(follow_url(public_referral), {"send": "1"}).status_code == expected


def test_the_referrer_replies_with_a_file_and_the_clinicians_are_told(
    world, public_referral, django_capture_on_commit_callbacks
):
    client = Client()
    open_with_code(client, public_referral)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            follow_url(public_referral) + "messages/",
            replied(public_referral, text="MRI report attached.", files=[jpeg_upload("knee.jpg")]),
        )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.author is None and message.author_name == "Dr. Omar Haddad"
    assert message.attachments.get().original_name == "knee.jpg"
    recipients = sorted(address for m in mail.outbox for address in m.to)
    assert recipients == [world.intake_listing.notification_email]
    decision = HrmMessageDecision.objects.get(message=message)
    assert not decision.attempted
    assert "The referrer was not signed in when sending the eReferral." in decision.reasons
    page = client.get(follow_url(public_referral)).content.decode()
    assert "You (Dr. Omar Haddad)" in page
    download = page.split('href="')[1:]
    link = next(h.split('"')[0] for h in download if "/attachments/" in h)
    response = client.get(link)
    assert response.status_code == 200
    assert AccessEntry.objects.filter(
        action="downloaded", referral_id=public_referral.pk, detail="knee.jpg"
    ).exists()
    # The clinicians see who wrote it.
    staff = Client()
    staff.force_login(world.intake)
    page = staff.get(f"/referrals/{public_referral.pk}/").content.decode()
    assert "Dr. Omar Haddad (referrer, not signed in)" in page


def test_a_reply_submitted_twice_is_posted_once(world, public_referral):
    client = Client()
    open_with_code(client, public_referral)
    reply = replied(public_referral, text="Thank you, booked on our side too.")
    first = client.post(follow_url(public_referral) + "messages/", reply)
    again = client.post(follow_url(public_referral) + "messages/", reply, follow=True)
    assert first.status_code == 302
    assert "already sent" in again.content.decode()
    assert Message.objects.count() == 1


def test_a_refused_file_posts_nothing(world, public_referral):
    client = Client()
    open_with_code(client, public_referral)
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("letter.pdf", b"MZ\x90\x00" + b"\x00" * 512)
    response = client.post(
        follow_url(public_referral) + "messages/",
        replied(public_referral, text="see file", files=[fake]),
    )
    assert response.status_code == 400
    assert "is not an allowed file type" in response.content.decode()
    assert not Message.objects.exists()


def test_access_ends_with_sign_out_and_with_time(world, public_referral):
    client = Client()
    open_with_code(client, public_referral)
    assert "Reply to" in client.get(follow_url(public_referral)).content.decode()
    client.post(follow_url(public_referral) + "sign-out/")
    page = client.get(follow_url(public_referral)).content.decode()
    assert "Email me a code" in page and "Tremblay" not in page

    open_with_code(client, public_referral)
    session = client.session
    session[SESSION_KEY] = {str(public_referral.pk): time.time() - 1}
    session.save()
    page = client.get(follow_url(public_referral)).content.decode()
    assert "Tremblay" not in page
    response = client.post(
        follow_url(public_referral) + "messages/", replied(public_referral, text="late")
    )
    assert response.status_code == 302
    assert not Message.objects.exists()


def test_only_a_referrer_without_account_writes_without_one(world):
    referral = make_referral(world.referrer, world.practice_listing, world.cardiology)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.message_post(referral=referral, author=None, text="hi")


def test_the_referrer_downloads_only_the_files_of_each_message_s_latest_version(
    world, public_referral
):
    """An amendment that drops a file takes it away from the referrer too: their page shows only
    the latest version, so the download follows the same rule."""
    from ..factories import pdf_upload

    letter = services.message_post(
        referral=public_referral,
        author=world.intake,
        text="Letter attached.",
        files=[pdf_upload("Wrong patient.pdf"), pdf_upload("Consultation letter.pdf")],
    )
    wrong, kept = letter.attachments.order_by("id")
    amended = services.message_amend(
        message=letter, author=world.intake, text="Letter attached.", keep_attachment_ids=[kept.pk]
    )
    current = amended.attachments.get()
    referrer = Client()
    open_with_code(referrer, public_referral)
    attachments = follow_url(public_referral) + "attachments/"
    assert referrer.get(f"{attachments}{current.pk}/").status_code == 200
    assert referrer.get(f"{attachments}{wrong.pk}/").status_code == 404
    assert referrer.get(f"{attachments}{kept.pk}/").status_code == 404  # the old version's row
    stranger = Client()
    assert stranger.get(f"{attachments}{current.pk}/").status_code == 404
    assert not AccessEntry.objects.filter(action="downloaded", detail="Wrong patient.pdf").exists()


class RefusingMailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_a_mail_failure_tells_the_referrer_to_try_again_and_loses_nothing(
    world, public_referral, settings, caplog
):
    client = Client()
    client.post(follow_url(public_referral), {"send": "1"})
    earlier = emailed_code()
    settings.EMAIL_BACKEND = f"{__name__}.RefusingMailBackend"
    with caplog.at_level(logging.ERROR):
        response = client.post(follow_url(public_referral), {"send": "1"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not send" in page.lower() and "try again" in page.lower()
    assert "on its way" not in page
    assert f"referral {public_referral.pk}" in caplog.text
    assert earlier not in caplog.text
    # The code emailed before still opens the referral: the one never sent replaced nothing.
    response = client.post(follow_url(public_referral), {"code": earlier})
    assert response.status_code == 302
    assert "Tremblay, Hélène" in client.get(follow_url(public_referral)).content.decode()
