"""Canned responses: a site's members keep named texts on a site page and insert one into the
composer in one action (a server round trip, so it works without a script)."""

import pytest

from referrals.models import CannedResponse

from ..factories import make_site

URL = "/referrals/canned-responses/"


def test_a_member_creates_edits_and_deletes_a_canned_response(world, client_for):
    client = client_for(world.specialist)
    site = world.cardiology.site
    response = client.post(URL, {"site": site.pk, "name": "Booked", "text": "Booked for you."})
    assert response.status_code == 302
    canned = CannedResponse.objects.get()
    assert (canned.site, canned.name) == (site, "Booked")
    assert "Booked for you." in client.get(URL).content.decode()

    client.post(URL, {"canned_id": canned.pk, "name": "Booked", "text": "Booked: see letter."})
    canned.refresh_from_db()
    assert canned.text == "Booked: see letter."

    client.post(URL, {"canned_id": canned.pk, "delete": "1"})
    assert not CannedResponse.objects.exists()


def test_another_sites_members_neither_see_nor_change_them(world, client_for):
    canned = CannedResponse.objects.create(
        site=world.cardiology.site, name="Booked", text="Booked for you."
    )
    client = client_for(world.referrer)
    assert "Booked for you." not in client.get(URL).content.decode()
    assert client.get(f"{URL}?edit={canned.pk}").status_code == 404
    assert client.post(URL, {"canned_id": canned.pk, "delete": "1"}).status_code == 404
    response = client.post(URL, {"site": world.cardiology.site.pk, "name": "X", "text": "Y"})
    assert response.status_code == 404
    assert list(CannedResponse.objects.values_list("text", flat=True)) == ["Booked for you."]


def test_a_name_is_once_per_site(world, client_for):
    CannedResponse.objects.create(site=world.cardiology.site, name="Booked", text="A")
    response = client_for(world.specialist).post(
        URL, {"site": world.cardiology.site.pk, "name": "Booked", "text": "B"}
    )
    assert response.status_code == 400
    assert "already has a canned response named" in response.content.decode()
    assert CannedResponse.objects.count() == 1


@pytest.mark.parametrize("typed", ["", "Dear Dr. Nguyen,"])
def test_insert_puts_the_text_into_the_composer_after_what_was_typed(
    world, referral, client_for, typed
):
    canned = CannedResponse.objects.create(
        site=world.cardiology.site, name="Booked", text="Booked for May 2 at 9:00."
    )
    make_site("Elsewhere")
    client = client_for(world.specialist)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert f'<option value="{canned.pk}">Booked</option>' in page
    response = client.post(
        f"/referrals/{referral.pk}/messages/canned/", {"text": typed, "canned_response": canned.pk}
    )
    assert response.status_code == 200
    expected = f"{typed}\nBooked for May 2 at 9:00." if typed else "Booked for May 2 at 9:00."
    assert f">\n{expected}</textarea>" in response.content.decode()
    assert not referral.messages.exists()  # inserted, not sent


def test_insert_of_another_sites_response_is_a_404(world, referral, client_for):
    canned = CannedResponse.objects.create(site=world.practice_listing.site, name="N", text="T")
    response = client_for(world.specialist).post(
        f"/referrals/{referral.pk}/messages/canned/", {"canned_response": canned.pk}
    )
    assert response.status_code == 404
    stranger = client_for(world.stranger)
    assert stranger.post(f"/referrals/{referral.pk}/messages/canned/", {}).status_code == 404
