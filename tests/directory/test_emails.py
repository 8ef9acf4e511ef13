"""The one email helper (directory/emails.py) every app's notices and codes go through."""

import logging
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from directory.emails import email_send, email_send_after_commit
from referrals import services

from ..factories import make_referral


class RefusingMailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_each_address_gets_its_own_one_line_message():
    sent = email_send(
        subject="The clinician of\nCardiology changed",
        body="Link: https://ereferral.test/x",
        addresses=["b@example.org", "a@example.org", "", "a@example.org"],
        about="a test",
    )
    assert sent is True
    assert [m.to for m in mail.outbox] == [["a@example.org"], ["b@example.org"]]
    assert {m.subject for m in mail.outbox} == {"The clinician of Cardiology changed"}


def test_a_mail_failure_is_logged_by_what_it_was_about_never_raised(settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingMailBackend"
    with caplog.at_level(logging.ERROR):
        sent = email_send(
            subject="Your code", body="code 123456", addresses=["a@example.org"], about="a code"
        )
    assert sent is False
    assert "Could not send an email about a code" in caplog.text
    assert "123456" not in caplog.text


@pytest.mark.django_db
def test_after_commit_waits_for_the_commit_and_a_rollback_emails_no_one(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        email_send_after_commit(subject="s", body="b", addresses=["a@example.org"], about="x")
        assert mail.outbox == []
    assert len(mail.outbox) == 1
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                email_send_after_commit(
                    subject="s", body="b", addresses=["a@example.org"], about="x"
                )
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_message_posted_while_mail_is_down_is_kept_and_the_poster_not_shown_a_500(
    world, client_for, settings, caplog, django_capture_on_commit_callbacks
):
    referral = make_referral(world.referrer, world.practice_listing, world.cardiology)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingMailBackend"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        message = services.message_post(
            referral=referral, author=world.specialist, text="Booked for Tuesday."
        )
    assert referral.messages.get() == message
    assert "Could not send an email about a notice" in caplog.text
