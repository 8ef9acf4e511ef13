"""Amend and Delete of one's own message (issue 20): a new version replacing it in the thread,
or a withdrawal marker hiding it from everyone but its author; personas: the author, another
stakeholder, a stranger."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AccessEntry
from referrals import services
from referrals.models import Attachment, Message
from referrals.selectors import referral_attachments_total

from ..factories import composed, pdf_upload, text_upload


def page(client, referral) -> str:
    return client.get(f"/referrals/{referral.pk}/").content.decode()


@pytest.fixture
def letter(world, referral):
    return services.message_post(
        referral=referral,
        author=world.specialist,
        text="Seen today. Plan: stress test.",
        files=[pdf_upload("Consultation letter.pdf"), text_upload("notes.txt")],
    )


def test_the_author_amends_keeping_one_file_and_the_thread_shows_the_new_version(
    world, referral, letter, client_for, django_capture_on_commit_callbacks
):
    pdf, notes = letter.attachments.order_by("id")
    author = client_for(world.specialist)
    form = author.get(f"/referrals/{referral.pk}/messages/{letter.pk}/amend/").content.decode()
    assert "Seen today. Plan: stress test.</textarea>" in form
    assert form.count('type="checkbox" name="keep"') == 2 and "checked" in form
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = author.post(
            f"/referrals/{referral.pk}/messages/{letter.pk}/amend/",
            composed(
                author, referral, text="Seen today. Plan: stress test, then echo.", keep=[pdf.pk]
            ),
        )
    assert response.status_code == 302
    new = Message.objects.get(previous_version=letter)
    assert new.text.endswith("then echo.")
    assert [a.original_name for a in new.attachments.all()] == ["Consultation letter.pdf"]
    assert new.attachments.get().file.name == pdf.file.name  # carried on, stored once
    assert referral_attachments_total(referral) == pdf.size + notes.size
    # The stakeholders are told as for a new message, without patient information.
    assert mail.outbox and all("echo" not in m.body for m in mail.outbox)

    thread = page(client_for(world.referrer), referral)
    assert "then echo." in thread and "Amended on" in thread
    assert thread.index("then echo.") < thread.index("Earlier version")
    assert "<details" in thread and "Plan: stress test.</p>" in thread  # one click away
    assert f"/messages/{new.pk}/amend/" not in thread  # Amend is the author's only
    assert f"/messages/{new.pk}/amend/" in page(author, referral)


def test_a_second_send_of_the_same_amendment_makes_one_version(world, referral, letter, client_for):
    author = client_for(world.specialist)
    data = composed(author, referral, text="Corrected.")
    url = f"/referrals/{referral.pk}/messages/{letter.pk}/amend/"
    assert author.post(url, data).status_code == 302
    assert author.post(url, data).status_code == 302
    assert Message.objects.filter(previous_version=letter).count() == 1


def test_only_the_author_amends_or_deletes(world, referral, letter, client_for):
    for action in ("amend", "delete", "withdrawn"):
        url = f"/referrals/{referral.pk}/messages/{letter.pk}/{action}/"
        assert client_for(world.stranger).get(url).status_code == 404
        assert client_for(world.referrer).get(url).status_code == 403
        assert client_for(world.referrer).post(url, {"reason": "x"}).status_code == 403
    with pytest.raises(PermissionDenied):
        services.message_withdraw(message=letter, actor=world.referrer, reason="Wrong patient.")
    with pytest.raises(PermissionDenied):
        services.message_amend(message=letter, author=world.referrer, text="Mine now.")
    letter.refresh_from_db()
    assert not letter.is_withdrawn and not Message.objects.filter(previous_version=letter)


def test_an_earlier_version_cannot_be_amended_again(world, referral, letter):
    services.message_amend(message=letter, author=world.specialist, text="Second.")
    with pytest.raises(ValidationError, match="latest version"):
        services.message_amend(message=letter, author=world.specialist, text="Third.")


def test_delete_needs_a_reason_and_hides_the_content_from_everyone_but_the_author(
    world, referral, letter, client_for
):
    author = client_for(world.specialist)
    url = f"/referrals/{referral.pk}/messages/{letter.pk}/delete/"
    assert "Delete the message" in author.get(url).content.decode()
    assert author.post(url, {"reason": "  "}).status_code == 400
    assert not Message.objects.get(pk=letter.pk).is_withdrawn
    assert author.post(url, {"reason": "Sent for the wrong patient."}).status_code == 302

    pdf = letter.attachments.first()
    other = client_for(world.referrer)
    thread = page(other, referral)
    assert "Withdrawn by its author on" in thread and "Sent for the wrong patient." in thread
    assert "Plan: stress test" not in thread and "Consultation letter" not in thread
    assert other.get(f"/referrals/{referral.pk}/attachments/{pdf.pk}/").status_code == 404

    own = page(author, referral)
    assert "Plan: stress test" not in own and "See what you withdrew" in own
    look = author.get(f"/referrals/{referral.pk}/messages/{letter.pk}/withdrawn/")
    assert "Plan: stress test" in look.content.decode()
    assert AccessEntry.objects.filter(
        record="withdrawn message", object_id=letter.pk, actor=world.specialist
    ).exists()
    assert author.get(f"/referrals/{referral.pk}/attachments/{pdf.pk}/").status_code == 200


def test_deleting_an_amended_message_hides_its_earlier_versions_too(
    world, referral, letter, client_for
):
    new = services.message_amend(
        message=letter, author=world.specialist, text="Plan: echo.", keep_attachment_ids=[]
    )
    services.message_withdraw(message=new, actor=world.specialist, reason="Duplicate.")
    assert Message.objects.get(pk=letter.pk).is_withdrawn
    thread = page(client_for(world.referrer), referral)
    assert "Plan: echo." not in thread and "Plan: stress test" not in thread
    assert thread.count("Withdrawn by its author on") == 1
    old_pdf = Attachment.objects.filter(message=letter).first()
    assert (
        client_for(world.referrer)
        .get(f"/referrals/{referral.pk}/attachments/{old_pdf.pk}/")
        .status_code
        == 404
    )


def _withdraw_queries(world, referral, amendments: int) -> tuple[int, Message]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    message = services.message_post(referral=referral, author=world.specialist, text="v0")
    first = message
    for n in range(amendments):
        message = services.message_amend(message=message, author=world.specialist, text=f"v{n + 1}")
    with CaptureQueriesContext(connection) as queries:
        services.message_withdraw(message=message, actor=world.specialist, reason="Wrong patient.")
    return len(queries), first


def test_deleting_a_message_amended_many_times_costs_what_deleting_one_amended_once_does(
    world, referral
):
    few, first = _withdraw_queries(world, referral, amendments=1)
    many, first_of_many = _withdraw_queries(world, referral, amendments=6)
    assert many == few
    versions = Message.objects.filter(referral=referral, text__startswith="v")
    assert versions.count() == 2 + 7
    assert all(version.is_withdrawn for version in versions)
    assert Message.objects.get(pk=first_of_many.pk).withdrawal_reason == "Wrong patient."
