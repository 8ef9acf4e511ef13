"""Numbers in addresses beyond what the database holds answer "not found" or the page, never an
error page (the admin's and the re-send page's are in test_admin_patient_pages and
tests/support/test_bulk_resend)."""

HUGE = "99999999999999999999999"


def test_clinicians_pages_take_any_number(world, referral, client_for):
    client = client_for(world.specialist)
    for url in (
        f"/referrals/{HUGE}/",
        f"/referrals/{referral.pk}/attachments/{HUGE}/",
        f"/referrals/{referral.pk}/messages/{HUGE}/hrm/",
        f"/directory/listings/{HUGE}/settings/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/referrals/new/", {"to": HUGE}).status_code == 200
    assert client.get("/referrals/", {"folder": HUGE}).status_code == 200


def test_support_pages_take_any_number(superuser, client_for):
    client = client_for(superuser)
    assert client.get(f"/admin/hrm/receiverimport/{HUGE}/preview/").status_code == 404
    assert client.get(f"/admin/hrm/senderapproval/{HUGE}/change/").status_code == 302
    assert client.get(f"/admin/audit/accessentry/{HUGE}/history/").status_code == 302
