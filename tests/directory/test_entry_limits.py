"""What people type into forms reaches the EMRs whole: Professional IDs in every form people type
them, and names no longer than HRM's fields as the receivers count them, refused at entry with a
clear message rather than failing later at delivery."""

import pytest
from django.utils import timezone

from directory.models import Listing, User
from referrals.models import Referral

from ..factories import PATIENT

ACCOUNT = {"first_name": "Priya", "last_name": "Patel", "email": "p@example.org"}


def account_post(client, **fields):
    return client.post("/directory/account/", {**ACCOUNT, **fields})


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("CPSO 24680", "D24680"),
        ("cpso24680", "D24680"),
        ("CPSO-24680", "D24680"),
        ("CPSO #24680", "D24680"),
        ("CPSO no. 24680", "D24680"),
        ("cpso 24 680", "D24680"),
        ("D24680", "D24680"),
        ("d-24680", "D24680"),
        ("CNO 7654321", "N7654321"),
        ("cno 765-4321", "N7654321"),
    ],
)
def test_account_takes_a_professional_id_as_people_type_it(world, client_for, typed, stored):
    client = client_for(world.colleague)
    response = account_post(client, professional_id=typed)
    assert response.status_code == 302
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == stored
    page = client.get("/directory/account/").content.decode()
    shown = f"{'CPSO' if stored[0] == 'D' else 'CNO'} {stored[1:]}"
    assert f'value="{shown}"' in page
    assert f"with Professional ID {shown}." in page  # what was understood, said back


def test_professional_id_inputs_never_cut_what_is_typed(world, client_for):
    # A browser silently drops what is typed past an input's maxlength: "CPSO 24680" is 10
    # characters and was once cut to "CPSO 2468", saved as D2468, someone else's ID.
    client = client_for(world.specialist)
    account = client.get("/directory/account/").content.decode()
    settings_page = client.get(f"/directory/listings/{world.cardiology.pk}/settings/")
    for page in (account, settings_page.content.decode()):
        assert 'maxlength="9"' not in page
        assert 'maxlength="32"' in page


def test_a_professional_id_with_too_many_digits_is_refused_not_shortened(world, client_for):
    response = account_post(client_for(world.colleague), professional_id="CPSO 123456789")
    assert response.status_code == 200
    assert "has 9 digits; a CPSO or CNO number has at most 8" in response.content.decode()
    world.colleague.refresh_from_db()
    assert world.colleague.professional_id == ""


@pytest.mark.parametrize(
    ("first", "last"),
    [("A" * 30, "B" * 25), ("Priya", "😀" * 25), ("Priya", "Patel^Smith")],
)
def test_account_names_must_fit_hrms_author_field(world, client_for, first, last):
    response = account_post(client_for(world.colleague), first_name=first, last_name=last)
    assert response.status_code == 200
    page = response.content.decode()
    assert "together may have at most 54 characters" in page or "cannot contain ^" in page
    world.colleague.refresh_from_db()
    assert (world.colleague.first_name, world.colleague.last_name) == ("Priya", "Patel")


def test_account_names_within_the_limit_are_saved_whole(world, client_for):
    first, last = "Marie-Ève", "Nakamura-O'Donnell " + "é" * 20
    response = account_post(client_for(world.colleague), first_name=first, last_name=last)
    assert response.status_code == 302
    world.colleague.refresh_from_db()
    assert (world.colleague.first_name, world.colleague.last_name) == (first, last)


def listing_post(client, listing, **fields):
    data = {
        "notification_email": "cardio@example.org",
        "requires_sign_in": "on",
        "clinician_first_name": "François",
        "clinician_surname": "Lee",
        "clinician_professional_id": "CPSO 67890",
        **fields,
    }
    return client.post(f"/directory/listings/{listing.pk}/settings/", data)


def test_listing_takes_cpso_24680_whole(world, client_for):
    # Dr. Patel, verified, makes the listing hers.
    world.colleague.professional_id = "D24680"
    world.colleague.professional_id_verified_at = timezone.now()
    world.colleague.save()
    client = client_for(world.colleague)
    response = listing_post(client, world.cardiology, clinician_professional_id="CPSO 24680")
    assert response.status_code == 302
    assert Listing.objects.get(pk=world.cardiology.pk).clinician_professional_id == "D24680"
    assert "with Professional ID CPSO 24680." in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("surname", ["L" * 61, "𝓛" * 31, "Lee^MD"])
def test_listing_clinician_names_must_fit_hrms_provider_field(world, client_for, surname):
    client = client_for(world.specialist)
    response = listing_post(client, world.cardiology, clinician_surname=surname)
    assert response.status_code == 200
    page = response.content.decode()
    assert "At most 60 characters, as the EMRs that receive HRM reports count them" in page or (
        "cannot contain ^" in page
    )
    assert Listing.objects.get(pk=world.cardiology.pk).clinician_surname == ""


def referral_post(client, world, **fields):
    data = {
        **PATIENT,
        "referrer_listing": world.practice_listing.pk,
        "target_listing": world.cardiology.pk,
        "patient_province": "ON",
        **fields,
    }
    return client.post("/referrals/new/", data)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("patient_last_name", "T" * 51, "At most 50 characters"),
        ("patient_first_name", "😀" * 26, "this has 52 (some symbols and emoji count as two)"),
        ("patient_birth_date", "1799-12-31", "before 1800 is not accepted"),
        ("patient_birth_date", "2999-01-01", "cannot be in the future"),
    ],
)
def test_referral_forms_refuse_what_emrs_would_refuse(
    world, client_for, client, field, value, words
):
    response = referral_post(client_for(world.referrer), world, **{field: value})
    assert response.status_code == 200
    assert words in response.content.decode()
    public = client.post(
        f"/referrals/listings/{world.intake_listing.pk}/refer/",
        {
            **PATIENT,
            "patient_province": "ON",
            "referrer_name": "Dr. Walk-in",
            "referrer_email": "walkin@example.org",
            field: value,
        },
    )
    assert public.status_code == 200
    assert words in public.content.decode()
    assert not Referral.objects.exists()


def test_referral_form_keeps_a_long_name_whole_within_the_limit(world, client_for):
    name = "Marie-Thérèse-Geneviève Dubois-Lefebvre d'Arc"  # 46 characters
    response = referral_post(client_for(world.referrer), world, patient_last_name=name)
    assert response.status_code == 302
    assert Referral.objects.get().patient_last_name == name
    today = timezone.localdate()
    response = referral_post(
        client_for(world.referrer), world, patient_birth_date=today.isoformat()
    )
    assert response.status_code == 302


def test_the_admin_enforces_the_same_limits(world, client_for):
    support = User.objects.create_superuser("support", "s@example.org", "pw-not-used-here")
    client = client_for(support)
    listing = world.cardiology
    url = f"/admin/directory/listing/{listing.pk}/change/"
    page = client.get(url).content.decode()
    assert 'maxlength="9"' not in page
    data = {
        "site": listing.site_id,
        "name": listing.name,
        "service": listing.service,
        "notification_email": listing.notification_email,
        "requires_sign_in": "on",
        "clinician_first_name": "François",
        "clinician_surname": "Lee",
        "clinician_professional_id": "CPSO 24680",
    }
    assert client.post(url, data).status_code == 302
    assert Listing.objects.get(pk=listing.pk).clinician_professional_id == "D24680"
    response = client.post(url, {**data, "clinician_surname": "𝓛" * 31})
    assert response.status_code == 200
    assert "At most 60 characters" in response.content.decode()
