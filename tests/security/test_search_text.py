"""A NUL in search words (PostgreSQL takes none in text) gets a clear message on every search:
the inbox, the directory, the admin's lists, support's re-send page (tests/support) and the
trail's patient search; nothing answers an error page, then or on the next visit."""

from django.contrib.auth.models import Permission

from referrals.views import INBOX_QUERY_SESSION_KEY

from ..admin_pages import admin_search

NUL = "Search words cannot contain a NUL character"


def test_the_inbox_search_says_so_and_keeps_working(world, referral, client_for):
    client = client_for(world.specialist)
    client.post("/referrals/", {"folder": "received", "q": "tremblay"})
    page = client.post("/referrals/", {"folder": "received", "q": "trem\x00blay"}, follow=True)
    assert page.status_code == 200 and NUL in page.content.decode()
    # The search before it is kept: nothing typed is lost.
    assert client.session[INBOX_QUERY_SESSION_KEY] == "tremblay"
    assert client.get("/referrals/?folder=received").status_code == 200


def test_a_kept_search_with_a_nul_is_dropped(world, referral, client_for):
    client = client_for(world.specialist)
    session = client.session
    session[INBOX_QUERY_SESSION_KEY] = "a\x00"
    session.save()
    page = client.get("/referrals/?folder=received")
    assert page.status_code == 200 and referral.patient_last_name in page.content.decode()


def test_the_directory_search_says_so(world, client_for):
    page = client_for(world.referrer).get("/directory/", {"q": "card\x00io"})
    assert page.status_code == 200 and NUL in page.content.decode()


def test_the_admin_lists_say_so(referral, superuser, client_for):
    client = client_for(superuser)
    page = admin_search(client, "/admin/referrals/referral/", "trem\x00blay")
    assert page.status_code == 200 and NUL in page.content.decode()
    page = client.get("/admin/audit/accessentry/", {"record": "re\x00cord"}, follow=True)
    assert page.status_code == 200 and NUL in page.content.decode()


def test_the_trails_patient_search_says_so(world, client_for):
    world.stranger.is_staff = True
    world.stranger.save()
    world.stranger.user_permissions.add(Permission.objects.get(codename="view_accessentry"))
    client = client_for(world.stranger)
    for form in (
        {"health_card": "98\x0076"},
        {"last_name": "Trem\x00", "birth_date": "1961-04-18"},
    ):
        page = client.post("/admin/audit/accessentry/patient/", form)
        assert (
            page.status_code == 200 and "Null characters are not allowed" in page.content.decode()
        )
