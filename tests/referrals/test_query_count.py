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


def test_the_referral_page_reads_the_users_sites_once(world, referral, client_for):
    """The page asks several questions of the user's sites (receiver? acting for which listing?
    may change the copies? HRM's parts too): they share one read. The page's whole count is
    pinned, so a query added anywhere is a choice, not an accident."""
    services.message_post(referral=referral, author=world.specialist, text="Booked.")
    client = client_for(world.specialist)
    client.get(f"/referrals/{referral.pk}/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/referrals/{referral.pk}/")
    assert response.status_code == 200
    statements = [query["sql"] for query in queries.captured_queries]
    own_sites = 'FROM "directory_site" INNER JOIN "directory_user_sites"'
    site_reads = [sql for sql in statements if own_sites in sql]
    assert len(site_reads) == 1, site_reads
    assert len(statements) == 22
