"""Live on HRM: a listing whose Clinician Information (first name, surname, Professional ID)
matches a receiver on OntarioMD's active list. Members see it on the listing settings page; the
delivery code asks the selector which stakeholders are live.

The receivers come from a real import of a small list, as support would load them.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.models import Listing
from hrm.receivers.selectors import (
    LiveStatus,
    listing_is_live_on_hrm,
    listings_live_on_hrm,
)
from hrm.receivers.services import receiver_list_import
from tests.factories import make_listing

HEADER = "Professional ID,First Name,Last Name\n"


def import_receivers(*rows: str, allow_mass_removal: bool = False) -> None:
    receiver_list_import(
        content=(HEADER + "".join(f"{row}\n" for row in rows)).encode(),
        file_name="receivers.csv",
        actor_name="test",
        allow_mass_removal=allow_mass_removal,
    )


def set_clinician(listing: Listing, first: str, surname: str, professional_id: str) -> Listing:
    listing.clinician_first_name = first
    listing.clinician_surname = surname
    listing.clinician_professional_id = professional_id
    listing.save()
    return listing


@pytest.fixture
def receivers(db):
    import_receivers("D67890,FRANCOIS,Lee", "D12345,Alice,Nguyen", "N1234567,Grace,Okafor")


# --- The selector ------------------------------------------------------------------------------


def test_a_listing_matching_the_list_ignoring_case_and_accents_is_live(world, receivers):
    set_clinician(world.cardiology, "François", "lee", "D67890")

    status = listing_is_live_on_hrm(world.cardiology)

    assert status == LiveStatus(is_live=True, reasons=())
    assert status.text == "This clinician uses HRM"


def test_clinician_information_with_nothing_filled_in_says_what_is_missing(world, receivers):
    status = listing_is_live_on_hrm(world.cardiology)

    assert status.is_live is False
    assert status.reasons == (
        "St. Brigid's Cardiology has no first name, surname or Professional ID in Clinician "
        "Information.",
    )


def test_a_missing_professional_id_is_named(world, receivers):
    set_clinician(world.cardiology, "François", "Lee", "")

    assert listing_is_live_on_hrm(world.cardiology).reasons == (
        "François Lee has no Professional ID in Clinician Information.",
    )


def test_a_professional_id_not_on_the_list_is_named_as_people_read_it(world, receivers):
    set_clinician(world.cardiology, "François", "Lee", "D67891")

    assert listing_is_live_on_hrm(world.cardiology).reasons == (
        "CPSO 67891 is not on OntarioMD's list of approved HRM receivers.",
    )


def test_names_that_do_not_match_the_list_show_both_spellings(world, db):
    import_receivers("D67890,Frank,Lee")
    set_clinician(world.cardiology, "François", "Lee", "D67890")

    assert listing_is_live_on_hrm(world.cardiology).reasons == (
        "The names in Clinician Information (François Lee) do not match OntarioMD's list "
        "(Frank Lee).",
    )


def test_a_missing_name_is_named_with_the_spelling_on_the_list(world, receivers):
    set_clinician(world.cardiology, "", "Lee", "D67890")

    assert listing_is_live_on_hrm(world.cardiology).reasons == (
        "Lee has no first name in Clinician Information.",
        "OntarioMD's list has FRANCOIS Lee for CPSO 67890.",
    )


def test_a_receiver_removed_from_the_list_is_no_longer_live(world, receivers):
    set_clinician(world.cardiology, "François", "Lee", "D67890")
    assert listing_is_live_on_hrm(world.cardiology).is_live

    import_receivers("D12345,Alice,Nguyen", "N1234567,Grace,Okafor", allow_mass_removal=True)

    (reason,) = listing_is_live_on_hrm(world.cardiology).reasons
    assert reason.startswith(
        "CPSO 67890 was removed from OntarioMD's list of approved HRM receivers on "
    )


def test_the_statuses_of_any_number_of_listings_take_one_query(world, receivers):
    hospital = world.cardiology.site
    listings = [
        set_clinician(make_listing(hospital, f"Clinic {n}"), "Alice", "Nguyen", "D12345")
        for n in range(10)
    ]
    listings += [make_listing(hospital, f"Unfilled {n}") for n in range(10)]
    listings += [
        set_clinician(make_listing(hospital, f"Unknown {n}"), "Sam", "Doe", f"D{70000 + n}")
        for n in range(10)
    ]

    with CaptureQueriesContext(connection) as queries:
        statuses = listings_live_on_hrm(listings)

    assert len(queries) == 1
    assert [statuses[listing.pk].is_live for listing in listings] == [True] * 10 + [False] * 20
    assert statuses[listings[-1].pk].reasons == (
        "CPSO 70009 is not on OntarioMD's list of approved HRM receivers.",
    )


def test_a_queryset_of_listings_is_answered_in_its_own_single_query(world, receivers):
    set_clinician(world.cardiology, "François", "Lee", "D67890")
    set_clinician(world.practice_listing, "Alice", "Nguyen", "D99999")
    listings = Listing.objects.filter(pk__in=[world.cardiology.pk, world.practice_listing.pk])

    with CaptureQueriesContext(connection) as queries:
        statuses = listings_live_on_hrm(listings)

    assert len(queries) == 1
    assert statuses == listings_live_on_hrm(list(listings))
    assert statuses[world.cardiology.pk].is_live is True
    assert statuses[world.practice_listing.pk].is_live is False


def test_listings_without_a_professional_id_need_no_query(world, receivers):
    with CaptureQueriesContext(connection) as queries:
        statuses = listings_live_on_hrm([world.cardiology, world.intake_listing])

    assert len(queries) == 0
    assert not any(status.is_live for status in statuses.values())


def test_which_stakeholders_are_live(world, referral, receivers):
    from referrals.selectors import referral_stakeholder_listings

    set_clinician(world.cardiology, "François", "Lee", "D67890")
    set_clinician(world.practice_listing, "Alice", "Nguyen", "D12345")
    stakeholders = referral_stakeholder_listings(referral)
    assert world.intake_listing in stakeholders

    with CaptureQueriesContext(connection) as queries:
        statuses = listings_live_on_hrm(stakeholders)

    assert len(queries) == 1
    live = {listing for listing in stakeholders if statuses[listing.pk].is_live}
    assert live == {world.cardiology, world.practice_listing}


# --- The listing settings page -----------------------------------------------------------------


def settings_page(client, listing) -> str:
    response = client.get(f"/directory/listings/{listing.pk}/settings/")
    assert response.status_code == 200
    return response.content.decode()


def test_listing_settings_say_this_clinician_uses_hrm_when_live(world, receivers, client_for):
    set_clinician(world.cardiology, "François", "Lee", "D67890")

    page = settings_page(client_for(world.colleague), world.cardiology)

    assert "This clinician uses HRM" in page


def test_listing_settings_say_what_to_fix_and_saving_the_fix_makes_it_live(world, db, client_for):
    import_receivers("D67890,Frank,Lee")
    set_clinician(world.cardiology, "François", "Lee", "D67890")
    # Dr. Lee himself, with the Professional ID support verified, fixes his own listing.
    world.specialist.professional_id_verified_at = timezone.now()
    world.specialist.save()
    client = client_for(world.specialist)

    page = settings_page(client, world.cardiology)
    assert "This clinician uses HRM" not in page
    assert "do not match OntarioMD&#x27;s list (Frank Lee)" in page

    client.post(
        f"/directory/listings/{world.cardiology.pk}/settings/",
        {
            "notification_email": "cardio@example.org",
            "requires_sign_in": "on",
            "clinician_first_name": "Frank",
            "clinician_surname": "Lee",
            "clinician_professional_id": "CPSO 67890",
        },
    )
    assert "This clinician uses HRM" in settings_page(client, world.cardiology)


def test_an_invalid_edit_does_not_show_unsaved_details_as_live(world, receivers, client_for):
    response = client_for(world.specialist).post(
        f"/directory/listings/{world.cardiology.pk}/settings/",
        {
            "notification_email": "not an email",
            "requires_sign_in": "on",
            "clinician_first_name": "François",
            "clinician_surname": "Lee",
            "clinician_professional_id": "D67890",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in page
    assert "This clinician uses HRM" not in page
    assert "has no first name, surname or Professional ID" in page


def test_strangers_cannot_see_a_listings_hrm_status(world, receivers, client_for):
    set_clinician(world.cardiology, "François", "Lee", "D67890")
    response = client_for(world.stranger).get(
        f"/directory/listings/{world.cardiology.pk}/settings/"
    )
    assert response.status_code == 404
