"""A message's text has a documented limit (MESSAGE_TEXT_MAX, docs/features.md), counted as the
EMRs count it and enforced at entry, on the form and in the service, with a clear message."""

import pytest
from django.core.exceptions import ValidationError

from directory.text_limits import MESSAGE_TEXT_MAX
from referrals import services
from referrals.models import Message

from ..factories import composed

LIMIT_WORDS = "text may have at most 20,000 characters (about 8 pages)"


def post(client, referral, **data):
    return client.post(f"/referrals/{referral.pk}/messages/", composed(client, referral, **data))


def test_the_limit_is_twenty_thousand():
    assert MESSAGE_TEXT_MAX == 20_000


def test_text_at_the_limit_is_posted(world, referral, client_for):
    response = post(client_for(world.specialist), referral, text="a" * MESSAGE_TEXT_MAX)
    assert response.status_code == 302
    assert len(Message.objects.get().text) == MESSAGE_TEXT_MAX


@pytest.mark.parametrize(
    ("text", "length"),
    [("&" * 1_000_000, "1,000,000"), ("a" * 20_001, "20,001"), ("😀" * 10_001, "20,002")],
    ids=["1 MB of &", "20,001 letters", "10,001 emoji"],
)
def test_longer_text_is_refused_on_the_form_and_nothing_is_posted(
    world, referral, client_for, text, length
):
    response = post(client_for(world.specialist), referral, text=text)
    assert response.status_code == 400  # the thread, with the refused form
    page = response.content.decode()
    assert LIMIT_WORDS in page
    assert f"this has {length}. Attach longer letters as a file" in page
    assert not Message.objects.exists()


def test_the_service_refuses_longer_text_too(world, referral):
    with pytest.raises(ValidationError, match="at most 20,000 characters"):
        services.message_post(referral=referral, author=world.specialist, text="&" * 20_001)
    assert not Message.objects.exists()
