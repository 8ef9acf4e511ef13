"""One Professional ID belongs to one person: HRM delivers to an EMR by it. A second account
claiming an ID is refused with a clear message, and support resolves it in the admin."""

import pytest
from django.utils import timezone

from directory.models import User

from ..factories import make_user


def account_post(client, **fields):
    data = {
        "first_name": "Priya",
        "last_name": "Patel",
        "email": "p@example.org",
        "professional_id": "",
        **fields,
    }
    return client.post("/directory/account/", data)


@pytest.mark.parametrize("typed", ["CPSO 12345", "d12345", "CPSO 012345"])
def test_a_second_person_cannot_claim_an_id_already_held(world, client_for, typed):
    response = account_post(client_for(world.colleague), professional_id=typed)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Another account already has this Professional ID" in page or "never starts" in page
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == ""
    assert User.objects.filter(professional_id="D12345").count() == 1


def test_the_holder_saves_their_own_id_again(world, client_for):
    response = account_post(
        client_for(world.referrer), first_name="Alice", last_name="Nguyen", professional_id="D12345"
    )
    assert response.status_code == 302


def test_changing_ones_id_clears_its_verification(world, client_for):
    world.colleague.professional_id = "D24680"
    world.colleague.professional_id_verified_at = timezone.now()
    world.colleague.save()
    client = client_for(world.colleague)
    assert (
        "Support verified your Professional ID"
        in client.get("/directory/account/").content.decode()
    )
    account_post(client, professional_id="CPSO 24681")
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == "D24681"
    assert world.colleague.professional_id_verified_at is None
    page = client.get("/directory/account/").content.decode()
    assert "Support has not verified your Professional ID yet" in page


@pytest.fixture
def support(db):
    return make_user(username="support.sam", is_staff=True, is_superuser=True, first_name="Sam")


def admin_user_post(client, user, **fields):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "professional_id": user.professional_id,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "sites": [site.pk for site in user.sites.all()],
        **fields,
    }
    return client.post(f"/admin/directory/user/{user.pk}/change/", data)


def test_support_is_told_who_holds_an_id_and_resolves_it(world, client_for, support):
    client = client_for(support)
    # The nurse typed the doctor's number before it was unique; support finds the holder...
    response = admin_user_post(client, world.colleague, professional_id="CPSO 12345")
    assert response.status_code == 200
    assert "Alice Nguyen (dr.nguyen) already has this Professional ID" in (
        response.content.decode()
    )
    # ...clears it from the account it is not, and gives it to its owner, verified.
    assert admin_user_post(client, world.referrer, professional_id="").status_code == 302
    response = admin_user_post(client, world.colleague, professional_id="CPSO 12345")
    assert response.status_code == 302
    client.post(
        "/admin/directory/user/",
        {"action": "professional_id_mark_verified", "_selected_action": [world.colleague.pk]},
    )
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == "D12345"
    assert world.colleague.professional_id_verified


def test_the_database_holds_one_id_per_person(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        make_user(username="copycat", professional_id="D12345")
    make_user(username="no.id.1")
    make_user(username="no.id.2")  # many accounts without an ID
