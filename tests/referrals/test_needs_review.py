"""Needs Review: each user's referrals with messages or changes they have not reviewed."""

import datetime

import pytest
from django.utils import timezone

from referrals import services
from referrals.models import Referral, ReviewMark
from referrals.selectors import referral_inbox, referrals_needing_review_count
from referrals.signals import message_delivery_failed

from ..factories import make_referral, make_user

pytestmark = pytest.mark.django_db


def review_tab(client) -> str:
    page = client.get("/referrals/?folder=review").content.decode()
    return page


def test_a_message_needs_review_by_everyone_but_its_author(world, referral, client_for):
    referral.review_marks.all().update(reviewed_at=timezone.now())
    services.message_post(referral=referral, author=world.specialist, text="Seen today.")
    assert referrals_needing_review_count(world.specialist) == 0
    for user in (world.referrer, world.intake, world.colleague):
        assert referrals_needing_review_count(user) == 1
    assert referrals_needing_review_count(world.stranger) == 0
    page = review_tab(client_for(world.referrer))
    assert "Tremblay, Hélène" in page and 'class="tab-count"' in page


def test_marks_clear_per_message_and_per_referral_for_that_user_only(world, referral, client_for):
    referral.review_marks.all().update(reviewed_at=timezone.now())
    first = services.message_post(referral=referral, author=world.specialist, text="One")
    services.message_post(referral=referral, author=world.specialist, text="Two")
    client = client_for(world.referrer)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert page.count(">Mark as reviewed</button>") == 2
    client.post(f"/referrals/{referral.pk}/reviewed/", {"message": first.pk})
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert page.count(">Mark as reviewed</button>") == 1
    assert referrals_needing_review_count(world.referrer) == 1
    client.post(f"/referrals/{referral.pk}/reviewed/", {})
    assert referrals_needing_review_count(world.referrer) == 0
    assert "Nothing to review." in review_tab(client)
    assert referrals_needing_review_count(world.intake) == 1
    # A stranger cannot clear anything, nor learn the referral exists.
    response = client_for(world.stranger).post(f"/referrals/{referral.pk}/reviewed/", {})
    assert response.status_code == 404


def test_status_changes_need_review_and_reading_alone_does_not_clear_them(
    world, referral, client_for
):
    referral.review_marks.all().update(reviewed_at=timezone.now())
    services.referral_status_change(referral=referral, status="accepted", actor=world.specialist)
    client = client_for(world.referrer)
    client.get(f"/referrals/{referral.pk}/")
    assert referrals_needing_review_count(world.referrer) == 1
    event = referral.events.last()
    client.post(f"/referrals/{referral.pk}/reviewed/", {"event": event.pk})
    assert referrals_needing_review_count(world.referrer) == 0


def test_a_failed_delivery_flags_the_authors_referral(world, referral):
    referral.review_marks.all().update(reviewed_at=timezone.now())
    message = services.message_post(referral=referral, author=world.specialist, text="Letter")
    assert referrals_needing_review_count(world.specialist) == 0
    message_delivery_failed.send(sender=None, message_id=message.pk, channel="HRM")
    message_delivery_failed.send(sender=None, message_id=message.pk, channel="HRM")
    mark = ReviewMark.objects.get(user=world.specialist, reviewed_at__isnull=True)
    assert mark.reason == ReviewMark.Reason.DELIVERY_FAILED and mark.message == message
    assert referrals_needing_review_count(world.specialist) == 1


def test_a_new_user_of_a_stakeholder_site_gets_new_posts_to_review(world, referral):
    newcomer = make_user(world.intake_listing.site, "rn.new")
    services.message_post(referral=referral, author=world.specialist, text="Hello")
    assert referrals_needing_review_count(newcomer) == 1


def test_the_inbox_filters_by_status_and_sorts_by_last_activity(world, client_for):
    older = make_referral(
        world.referrer, world.practice_listing, world.cardiology, patient_last_name="Older"
    )
    newer = make_referral(
        world.referrer, world.practice_listing, world.cardiology, patient_last_name="Newer"
    )
    Referral.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )
    older.events.update(created_at=timezone.now() - datetime.timedelta(days=2))
    services.message_post(referral=older, author=world.specialist, text="Activity")
    by_activity = referral_inbox(world.specialist, folder="received")
    assert [r.pk for r in by_activity] == [older.pk, newer.pk]
    by_sent = referral_inbox(world.specialist, folder="received", sort="sent")
    assert [r.pk for r in by_sent] == [newer.pk, older.pk]
    services.referral_status_change(referral=newer, status="accepted", actor=world.specialist)
    client = client_for(world.specialist)
    page = client.get("/referrals/?folder=received&status=accepted").content.decode()
    assert "Newer, Hélène" in page and "Older, Hélène" not in page
    page = client.get("/referrals/?folder=received&status=bogus&sort=bogus").content.decode()
    assert "Newer, Hélène" in page and "Older, Hélène" in page


def test_the_review_tab_lists_every_referral_its_count_counts(world, client_for):
    """A member of a listing the referral is copied to gets messages to review: the tab's count
    and the Review folder agree on them (and on a stranger's nothing)."""
    from ..factories import make_listing, make_site

    site = make_site("Riverside Physiotherapy")
    member = make_user(site, "pt.roy")
    copied = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        copy_listings=[make_listing(site, "Riverside Physio")],
        patient_last_name="Copied",
    )
    services.message_post(referral=copied, author=world.specialist, text="Booked for May 2.")
    for user in (member, world.specialist, world.referrer, world.stranger):
        listed = list(referral_inbox(user, folder="review"))
        assert referrals_needing_review_count(user) == len(listed), user.username
    assert [r.pk for r in referral_inbox(member, folder="review")] == [copied.pk]
    page = review_tab(client_for(member))
    assert "Copied, Hélène" in page
    assert referrals_needing_review_count(world.stranger) == 0
