from directory.models import Listing


def test_account_page_saves_a_professional_id_in_stored_form(world, client_for):
    client = client_for(world.colleague)
    response = client.post(
        "/directory/account/",
        {
            "first_name": "Priya",
            "last_name": "Patel",
            "email": "p@example.org",
            "professional_id": "CPSO 24680",
        },
    )
    assert response.status_code == 302
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == "D24680"
    page = client.get("/directory/account/").content.decode()
    assert 'value="CPSO 24680"' in page


def test_account_page_refuses_an_invalid_professional_id(world, client_for):
    response = client_for(world.colleague).post(
        "/directory/account/",
        {
            "first_name": "Priya",
            "last_name": "Patel",
            "email": "p@example.org",
            "professional_id": "12345",
        },
    )
    assert response.status_code == 200
    assert "Say whether this is a CPSO or a CNO number" in response.content.decode()
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == ""


def test_member_changes_listing_settings_and_only_asks_for_a_clinician(world, client_for):
    url = f"/directory/listings/{world.cardiology.pk}/settings/"
    response = client_for(world.colleague).post(
        url,
        {
            "notification_email": "cardio@example.org",
            "requires_sign_in": "",
            "clinician_first_name": "François",
            "clinician_surname": "Lee",
            "clinician_professional_id": "cpso 67890",
        },
    )
    assert response.status_code == 302
    listing = Listing.objects.get(pk=world.cardiology.pk)
    assert listing.requires_sign_in is False
    # Dr. Patel is not the clinician: the change waits for support (test_listing_clinician.py).
    assert listing.clinician_professional_id == ""
    change = listing.clinician_changes.get()
    assert (change.after_professional_id, change.after_first_name) == ("D67890", "François")


def test_listing_settings_refuse_a_bad_professional_id(world, client_for):
    url = f"/directory/listings/{world.cardiology.pk}/settings/"
    response = client_for(world.specialist).post(
        url, {"requires_sign_in": "on", "clinician_professional_id": "X1"}
    )
    assert response.status_code == 200
    assert "Enter a CPSO number" in response.content.decode()
    assert Listing.objects.get(pk=world.cardiology.pk).clinician_professional_id == ""


def test_stranger_gets_404_for_listing_settings(world, client_for):
    url = f"/directory/listings/{world.cardiology.pk}/settings/"
    client = client_for(world.stranger)
    assert client.get(url).status_code == 404
    assert client.post(url, {"requires_sign_in": ""}).status_code == 404
    assert Listing.objects.get(pk=world.cardiology.pk).requires_sign_in is True


def test_directory_lists_listings(world, client_for):
    page = client_for(world.stranger).get("/directory/?q=cardio").content.decode()
    assert "St. Brigid&#x27;s Cardiology" in page
    assert "Dr. Nguyen, Family Medicine" not in page
