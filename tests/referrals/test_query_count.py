from django.db import connection
from django.test.utils import CaptureQueriesContext

from referrals import services

from ..factories import pdf_upload


def _page_queries(client, referral):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/referrals/{referral.pk}/")
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_referral_page_queries_do_not_grow_with_the_thread(world, referral, client_for):
    client = client_for(world.referrer)
    for n in range(2):
        services.message_post(
            referral=referral,
            author=world.specialist,
            text=f"Message {n}",
            files=[pdf_upload(f"letter{n}.pdf")],
        )
    few, page = _page_queries(client, referral)
    assert page.count('class="message"') == 2
    for n in range(2, 200):
        author = world.specialist if n % 2 else world.referrer
        services.message_post(
            referral=referral,
            author=author,
            text=f"Message {n}",
            files=[pdf_upload(f"letter{n}.pdf")] if n % 10 == 0 else [],
        )
    many, page = _page_queries(client, referral)
    assert page.count('class="message"') == 200
    assert many == few
