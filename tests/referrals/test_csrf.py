from django.test import Client

from ..factories import composed


def test_posts_without_a_csrf_token_are_refused(world, referral):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.specialist)
    response = client.post(f"/referrals/{referral.pk}/messages/", {"text": "hi"})
    assert response.status_code == 403
    assert referral.messages.count() == 0


def test_posts_with_the_token_from_the_page_are_accepted(world, referral):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.specialist)
    client.get(f"/referrals/{referral.pk}/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/referrals/{referral.pk}/messages/",
        composed(client, referral, text="hi", csrfmiddlewaretoken=token),
    )
    assert response.status_code == 302
    assert referral.messages.get().text == "hi"
