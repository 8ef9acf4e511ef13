"""Access is by relationship: only members of a stakeholder (or the referrer) see a referral,
and everyone else gets a 404 for every URL about it."""

import pytest

from referrals import services
from referrals.models import Message, Referral

from ..factories import pdf_upload


@pytest.fixture
def with_letter(referral, world):
    message = services.message_post(
        referral=referral, author=world.specialist, text="Letter", files=[pdf_upload()]
    )
    return message.attachments.get()


def referral_urls(referral, attachment):
    base = f"/referrals/{referral.pk}/"
    return {
        "get": [base, f"{base}attachments/{attachment.pk}/"],
        "post": [f"{base}messages/", f"{base}forward/", f"{base}status/"],
    }


@pytest.mark.parametrize("persona", ["referrer", "intake", "specialist", "colleague"])
def test_stakeholders_see_the_referral_and_its_files(
    persona, world, referral, with_letter, client_for
):
    client = client_for(getattr(world, persona))
    assert client.get(f"/referrals/{referral.pk}/").status_code == 200
    download = client.get(f"/referrals/{referral.pk}/attachments/{with_letter.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")


def test_stranger_gets_404_for_every_url(world, referral, with_letter, client_for):
    client = client_for(world.stranger)
    urls = referral_urls(referral, with_letter)
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert (
            client.post(
                url,
                {"text": "hello", "status": "cancelled", "to_listing": world.stranger_listing.pk},
            ).status_code
            == 404
        ), url
    assert Message.objects.filter(referral=referral).count() == 1
    referral.refresh_from_db()
    assert referral.status == Referral.Status.FORWARDED
    assert referral.target_listing == world.cardiology


def test_attachment_of_another_referral_is_404(world, referral, with_letter, client_for):
    from ..factories import make_referral

    other = make_referral(world.stranger, world.stranger_listing, world.cardiology)
    client = client_for(world.stranger)
    assert client.get(f"/referrals/{other.pk}/").status_code == 200
    assert client.get(f"/referrals/{other.pk}/attachments/{with_letter.pk}/").status_code == 404


def test_invalid_and_unknown_ids_are_404(world, client_for):
    client = client_for(world.referrer)
    assert client.get("/referrals/999999/").status_code == 404
    assert client.get("/referrals/abc/").status_code == 404
    assert client.get("/referrals/1/attachments/999999/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(referral, with_letter, client):
    for url in [
        f"/referrals/{referral.pk}/",
        f"/referrals/{referral.pk}/attachments/{with_letter.pk}/",
        "/referrals/",
        "/directory/account/",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_files_are_downloads_never_inline(world, referral, with_letter, client_for):
    response = client_for(world.referrer).get(
        f"/referrals/{referral.pk}/attachments/{with_letter.pk}/"
    )
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_files_are_not_under_a_public_url(settings, with_letter):
    assert settings.STORAGES["default"]["OPTIONS"]["base_url"] is None
    assert not with_letter.file.name.endswith(".pdf")
    assert "letter" not in with_letter.file.name


def test_inbox_shows_only_my_referrals(world, referral, client_for):
    received = client_for(world.intake).get("/referrals/?folder=received").content.decode()
    assert "Tremblay, Hélène" in received
    sent = client_for(world.referrer).get("/referrals/?folder=sent").content.decode()
    assert "Tremblay, Hélène" in sent
    assert "Tremblay" not in client_for(world.referrer).get("/referrals/").content.decode()
    for folder in ("received", "sent"):
        page = client_for(world.stranger).get(f"/referrals/?folder={folder}").content.decode()
        assert "Tremblay" not in page


def test_inbox_search_by_patient_name(world, referral, client_for):
    from ..factories import make_referral

    make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Wei",
        patient_last_name="Chen",
    )
    client = client_for(world.specialist)
    response = client.post("/referrals/", {"folder": "received", "q": "chen"}, follow=True)
    # The search travels in the body, never the URL (and so never into access logs).
    assert response.redirect_chain == [("/referrals/?folder=received", 302)]
    page = response.content.decode()
    assert "Chen, Wei" in page and "Tremblay" not in page
    page = client.post("/referrals/", {"folder": "received", "q": "hélène"}, follow=True)
    page = page.content.decode()
    assert "Tremblay, Hélène" in page and "Chen" not in page
    # A surname in the URL is ignored.
    page = client.get("/referrals/?folder=received&q=chen").content.decode()
    assert "Chen, Wei" not in page and "Tremblay, Hélène" in page


def test_admin_is_for_staff_only(world, client_for):
    response = client_for(world.referrer).get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
