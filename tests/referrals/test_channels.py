"""The delivery-channel contract (referrals/channels.py): Send calls each channel of
MESSAGE_DELIVERY_CHANNELS, in order, inside its transaction; a failing channel undoes the Send;
the referral page shows what each channel reports for the thread."""

import copy
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import checks, mail
from django.db import connection, transaction

from hrm.models import HrmMessageDecision
from referrals import services
from referrals.channels import (
    DeliveryChannel,
    MessageStatus,
    PreparedText,
    ThreadStatus,
    delivery_channels,
)
from referrals.models import Attachment, Message
from referrals.selectors import referral_stakeholder_listings

from ..factories import composed, pdf_upload

HERE = "tests.referrals.test_channels"


class RecordingChannel(DeliveryChannel):
    """Keeps what Send handed it, whether Send's transaction was open then, and which messages'
    on-commit work ran."""

    def __init__(self):
        self.posted = []
        self.committed = []

    def text_prepare(self, text):
        count = text.count("colour")
        changes = (f"{count} “colour” spelled as the fax prints it.",) if count else ()
        return PreparedText(text.replace("colour", "color"), changes)

    def message_posted(self, message, *, stakeholders, attachments):
        self.posted.append(
            {
                "message": message,
                "stakeholders": stakeholders,
                "attachments": attachments,
                "in_transaction": connection.in_atomic_block,
                "message_saved": Message.objects.filter(pk=message.pk).exists(),
            }
        )
        transaction.on_commit(lambda: self.committed.append(message.pk))

    def thread_status(self, *, referral, messages, viewer):
        return ThreadStatus(
            messages={
                message.pk: MessageStatus(
                    template="channel_test/message_status.html",
                    detail=f"Faxed message {message.pk} for {viewer.username}",
                )
                for message in messages
            },
            attributes={"data-channel-test-url": f"/fax/{referral.pk}/?a=1&b=2"},
            template="channel_test/thread.html",
        )


class FailingChannel(DeliveryChannel):
    def message_posted(self, message, *, stakeholders, attachments):
        raise RuntimeError("The fax line is down.")


class SilentChannel(DeliveryChannel):
    """Only the defaults: prepares nothing, records nothing, shows nothing."""


@pytest.fixture
def channel_templates(settings):
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], Path(__file__).parent / "templates"]
    settings.TEMPLATES = templates


@pytest.mark.django_db(transaction=True)
def test_send_hands_each_channel_the_message_stakeholders_and_attachments_in_its_transaction(
    world, referral, settings
):
    settings.MESSAGE_DELIVERY_CHANNELS = [f"{HERE}.RecordingChannel", f"{HERE}.SilentChannel"]
    [recording, _] = delivery_channels()

    message = services.message_post(
        referral=referral,
        author=world.specialist,
        text="Letter attached",
        files=[pdf_upload("a.pdf"), pdf_upload("b.pdf")],
    )

    [posted] = recording.posted
    assert posted["message"] == message
    assert posted["stakeholders"] == referral_stakeholder_listings(referral)
    assert posted["attachments"] == list(Attachment.objects.filter(message=message).order_by("id"))
    assert posted["in_transaction"] is True
    assert posted["message_saved"] is True
    # What the channel deferred ran once Send had committed.
    assert recording.committed == [message.pk]
    assert not connection.in_atomic_block  # so the open transaction above was Send's own


@pytest.mark.django_db(transaction=True)
def test_a_failing_channel_undoes_the_send_and_every_channels_deferred_work(
    world, referral, settings
):
    settings.MESSAGE_DELIVERY_CHANNELS = [
        "hrm.channel.HrmChannel",
        "referrals.channels.EmailChannel",
        f"{HERE}.RecordingChannel",
        f"{HERE}.FailingChannel",
    ]
    events_before = referral.events.count()
    mail.outbox.clear()

    with pytest.raises(RuntimeError, match="fax line is down"):
        services.message_post(
            referral=referral, author=world.specialist, text="Booked", files=[pdf_upload()]
        )

    recording = delivery_channels()[2]
    assert len(recording.posted) == 1  # it was called, then the Send it was part of undone
    assert recording.committed == []
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()
    assert not HrmMessageDecision.objects.exists()
    assert referral.events.count() == events_before
    assert mail.outbox == []


def test_channels_prepare_the_text_in_order_and_the_author_is_told(
    world, referral, client_for, settings, channel_templates
):
    settings.MESSAGE_DELIVERY_CHANNELS = [f"{HERE}.RecordingChannel", "hrm.channel.HrmChannel"]

    client = client_for(world.specialist)
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(client, referral, text="Red colour\x07 <b>"),
        follow=True,
    )

    assert Message.objects.get().text == "Red color <\u2060b>"
    page = response.content.decode()
    assert "In your message: 1 “colour” spelled as the fax prints it." in page
    assert "In your message: 1 invisible control character(s)" in page


def test_text_is_stored_as_typed_when_no_channel_changes_it(world, referral, settings):
    settings.MESSAGE_DELIVERY_CHANNELS = [f"{HERE}.SilentChannel"]

    message = services.message_post(referral=referral, author=world.specialist, text=" <b> & ")

    assert message.text == " <b> & "


def test_the_referral_page_shows_what_each_channel_reports(
    world, referral, client_for, settings, channel_templates
):
    settings.MESSAGE_DELIVERY_CHANNELS = [f"{HERE}.SilentChannel", f"{HERE}.RecordingChannel"]
    first = services.message_post(referral=referral, author=world.specialist, text="One")
    second = services.message_post(referral=referral, author=world.referrer, text="Two")

    page = client_for(world.referrer).get(f"/referrals/{referral.pk}/").content.decode()

    assert f'data-channel-test-url="/fax/{referral.pk}/?a=1&amp;b=2"' in page
    assert page.count('class="channel-test-thread"') == 1
    for message in (first, second):
        assert f"Faxed message {message.pk} for {world.referrer.username}" in page
    # The channel that reports nothing, and HRM, which is not configured, show nothing.
    assert 'class="hrm-status"' not in page and "data-hrm-status-url" not in page


def test_the_thread_shows_no_channel_without_channels(world, referral, client_for, settings):
    settings.MESSAGE_DELIVERY_CHANNELS = []
    services.message_post(referral=referral, author=world.specialist, text="Only in the thread")

    page = client_for(world.referrer).get(f"/referrals/{referral.pk}/").content.decode()

    assert "Only in the thread" in page
    assert '<section aria-labelledby="thread-heading" id="thread">' in page


def test_a_channel_that_cannot_be_loaded_fails_the_checks(settings):
    settings.MESSAGE_DELIVERY_CHANNELS = [
        "referrals.channels.EmailChannel",
        "referrals.channels.NoSuchChannel",
        "referrals.models.Message",
    ]

    errors = [e for e in checks.run_checks() if e.id.startswith("referrals.")]

    assert [(e.id, e.obj) for e in errors] == [
        ("referrals.E001", "referrals.channels.NoSuchChannel"),
        ("referrals.E001", "referrals.models.Message"),
    ]


def test_the_configured_channels_pass_the_checks():
    assert [e for e in checks.run_checks() if e.id.startswith("referrals.")] == []
