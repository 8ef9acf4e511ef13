"""One composed message is posted once: the composer's one-time token, checked on the server."""

import threading

import pytest
from django.db import connection
from django.test import Client

from hrm.models import HrmReport
from referrals.composer import composer_token_issue
from referrals.models import Attachment, Message

from ..factories import composed, pdf_upload


def _post(client, referral, data):
    return client.post(f"/referrals/{referral.pk}/messages/", data)


def test_a_second_post_of_one_composed_message_posts_nothing_and_shows_the_first(
    world, referral, client_for
):
    client = client_for(world.specialist)
    data = composed(client, referral, text="Booked for Monday.")
    first = _post(client, referral, data)
    again = _post(client, referral, data)

    message = Message.objects.get()
    assert first.status_code == again.status_code == 302
    assert again["Location"] == f"/referrals/{referral.pk}/#message-{message.pk}"
    page = client.get(again["Location"]).content.decode()
    assert "This message was already sent, at" in page
    assert "Nothing was sent again." in page
    assert referral.events.filter(kind="message_posted").count() == 1


def test_each_composer_posts_its_own_message(world, referral, client_for):
    client = client_for(world.specialist)
    _post(client, referral, composed(client, referral, text="Booked for Monday."))
    _post(client, referral, composed(client, referral, text="Booked for Monday."))
    assert Message.objects.count() == 2


@pytest.mark.parametrize("whose", ["none", "another user's", "another referral's", "forged"])
def test_a_post_without_its_own_token_is_refused_and_the_text_kept(
    world, referral, client_for, whose
):
    other_referral = type(referral).objects.create(
        **{
            f.attname: getattr(referral, f.attname)
            for f in referral._meta.concrete_fields
            if f.name not in {"id", "reference"}
        }
    )
    token = {
        "none": "",
        "another user's": composer_token_issue(world.referrer, referral),
        "another referral's": composer_token_issue(world.specialist, other_referral),
        "forged": composer_token_issue(world.specialist, referral)[:-3] + "abc",
    }[whose]
    client = client_for(world.specialist)
    response = _post(client, referral, {"composer": token, "text": "  Indented plan."})
    assert response.status_code == 400
    assert not Message.objects.exists()
    page = response.content.decode()
    assert "nothing was sent" in page
    assert "  Indented plan.</textarea>" in page
    # The page carries a fresh token: Send again posts the kept text.
    fresh = response.context["message_form"]["composer"].value()
    assert fresh and fresh != token
    assert _post(client, referral, {"composer": fresh, "text": "  Indented plan."}).status_code == (
        302
    )
    assert Message.objects.get().text == "  Indented plan."


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_of_one_composed_message_make_one_message_and_one_set_of_reports(
    live, client_for
):
    """Two requests at once (a double click), each on its own database connection."""
    clients = [client_for(live.world.specialist) for _ in range(2)]
    token = composer_token_issue(live.world.specialist, live.referral)
    start = threading.Barrier(2)
    statuses = []

    def send(client):
        try:
            data = {"composer": token, "text": "Seen today.", "files": [pdf_upload()]}
            start.wait(timeout=30)
            statuses.append(_post(client, live.referral, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [302, 302]
    message = Message.objects.get()
    assert Attachment.objects.count() == 1
    reports = HrmReport.objects.all()
    # One text report and one PDF report per live recipient, all of the one message.
    assert reports.count() > 0 and {r.message_id for r in reports} == {message.pk}
    per_recipient = {}
    for report in reports:
        per_recipient.setdefault(report.recipient_id, []).append(report.attachment_id)
    assert all(
        sorted(parts, key=str) == sorted([None, message.attachments.get().pk], key=str)
        for parts in per_recipient.values()
    )


def test_a_stranger_posting_a_stakeholders_token_gets_a_404(world, referral, client_for):
    client = client_for(world.stranger)
    data = {"composer": composer_token_issue(world.specialist, referral), "text": "Hi"}
    assert _post(client, referral, data).status_code == 404
    assert not Message.objects.exists()


def test_the_composer_token_rides_in_a_text_input_the_page_hides(world, referral, client_for):
    """A text input, so the browser restores it with the typed text on Back (never type=hidden,
    whose value browsers do not restore)."""
    page = client_for(world.specialist).get(f"/referrals/{referral.pk}/").content.decode()
    assert 'type="text" name="composer"' in page
    assert "hidden" in page.split('name="composer"', 1)[1].split(">", 1)[0]


def test_client_without_login_is_sent_to_sign_in(referral):
    response = Client().post(f"/referrals/{referral.pk}/messages/", {"text": "x"})
    assert response.status_code in (302, 403)
    assert not Message.objects.exists()


def test_text_changed_after_back_is_kept_and_goes_only_when_sent_again(world, referral, client_for):
    client = client_for(world.specialist)
    data = composed(client, referral, text="Booked for Monday.")
    _post(client, referral, data)
    changed = _post(client, referral, {**data, "text": "Booked for Tuesday instead."})
    assert changed.status_code == 400
    page = changed.content.decode()
    assert "was already sent, at" in page and "press Send to post it as a new message" in page
    assert "Booked for Tuesday instead.</textarea>" in page
    assert Message.objects.count() == 1
    fresh = changed.context["message_form"]["composer"].value()
    assert fresh != data["composer"]
    _post(client, referral, {"composer": fresh, "text": "Booked for Tuesday instead."})
    assert list(Message.objects.values_list("text", flat=True)) == [
        "Booked for Monday.",
        "Booked for Tuesday instead.",
    ]
