"""Every admin page that shows a patient is on the access trail (lists with what was searched,
record pages, history pages), searches are posted and never in an address, and no address the
admin generates (links, forms, redirects) names a patient: name, health card or birth date."""

import re
from urllib.parse import unquote_plus

import pytest

from audit.models import AccessEntry
from referrals import services
from referrals.models import Attachment, Message, ReferralEvent, ReferralOwnership

from ..admin_pages import admin_search
from ..factories import pdf_upload

Action = AccessEntry.Action
HEALTH_CARD = "9876543217"
# The patient as an address could carry them (decoded, lower case).
PATIENT_IN_ADDRESS = ("tremblay", "hélène", "helene", HEALTH_CARD, "9876-543-217", "1961-04-18")
SEARCH = "Tremblay"


@pytest.fixture
def records(world, referral, client_for):
    message = services.message_post(
        referral=referral, author=world.specialist, text="Letter", files=[pdf_upload("a.pdf")]
    )
    client_for(world.referrer).get(referral.get_absolute_url())  # one access entry
    return {
        "referral": referral,
        "message": message,
        "attachment": Attachment.objects.get(message=message),
        "referralevent": ReferralEvent.objects.filter(referral=referral).first(),
        "referralownership": ReferralOwnership.objects.filter(referral=referral).first(),
        "accessentry": AccessEntry.objects.filter(referral_id=referral.pk).first(),
    }


PAGES = {
    "referral": "/admin/referrals/referral/",
    "message": "/admin/referrals/message/",
    "attachment": "/admin/referrals/attachment/",
    "referralevent": "/admin/referrals/referralevent/",
    "referralownership": "/admin/referrals/referralownership/",
    "accessentry": "/admin/audit/accessentry/",
}


def addresses(response) -> list[str]:
    """Every address a page or a redirect gives the browser."""
    found = [response.get("Location", "")]
    for hop, _ in getattr(response, "redirect_chain", []):
        found.append(hop)
    if response.get("Content-Type", "").startswith("text/html"):
        found += re.findall(r'(?:href|action|src)="([^"]*)"', response.content.decode())
    return [address for address in found if address]


def assert_no_patient_in_addresses(response):
    for address in addresses(response):
        decoded = unquote_plus(unquote_plus(address)).lower()
        assert not any(part in decoded for part in PATIENT_IN_ADDRESS), address


def new_entries(reader, since: int) -> list[AccessEntry]:
    return list(AccessEntry.objects.filter(actor=reader, pk__gt=since).order_by("id"))


def last_entry_id() -> int:
    return AccessEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.parametrize("persona", ["support_viewer", "full_staff", "superuser"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_showing_a_patient_is_on_the_trail_and_names_no_patient_in_an_address(
    request, records, client_for, persona, name
):
    reader = request.getfixturevalue(persona)
    client = client_for(reader)
    obj = records[name]
    base = PAGES[name]
    pages = {
        "list": lambda: client.get(base),
        "search": lambda: admin_search(client, base, SEARCH),
        "record": lambda: client.get(f"{base}{obj.pk}/change/"),
        "history": lambda: client.get(f"{base}{obj.pk}/history/"),
    }
    for page, fetch in pages.items():
        since = last_entry_id()
        response = fetch()
        assert response.status_code == 200, (name, page)
        assert_no_patient_in_addresses(response)
        entries = new_entries(reader, since)
        assert entries, (name, page)
        assert all(entry.record.endswith("(admin)") for entry in entries)
        if page == "search":
            assert {entry.action for entry in entries} == {Action.SEARCHED}
            assert all(f"search “{SEARCH}”" in entry.detail for entry in entries)
            assert SEARCH in response.content.decode()  # the box shows what was searched
        else:
            assert {entry.action for entry in entries} == {Action.VIEWED}
        if page != "search" or name == "referral":
            # Each page shows this patient (the search finds them on the referral list only).
            assert HEALTH_CARD in {entry.patient_health_card for entry in entries}, (name, page)
            assert any(entry.referral_id == records["referral"].pk for entry in entries)
        # Links from the page keep the search by its key, never by its words.
        if page == "search":
            assert "search=" in unquote_plus(" ".join(addresses(response)))


def test_a_search_in_the_address_is_not_taken(records, superuser, client_for):
    client = client_for(superuser)
    response = client.get(PAGES["referral"], {"q": SEARCH})
    assert response.status_code == 302 and "q=" not in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert "use the search box" in page
    # A search key from another session, or an old one, finds nothing and says so.
    page = client.get(PAGES["referral"], {"search": "not-a-kept-key"}, follow=True)
    assert "That search is no longer kept" in page.content.decode()


def test_searches_are_kept_under_their_key_for_this_session_only(
    records, superuser, full_staff, client_for
):
    client = client_for(superuser)
    found = admin_search(client, PAGES["referral"], SEARCH)
    change = f"/admin/referrals/referral/{records['referral'].pk}/change/"
    assert change in found.content.decode()
    address = found.redirect_chain[-1][0]
    other = client_for(full_staff).get(address, follow=True).content.decode()
    assert "That search is no longer kept" in other


@pytest.mark.parametrize("name", list(PAGES))
def test_staff_without_permissions_see_nothing_and_leave_no_patient_entry(
    records, staff_without_permissions, client_for, name
):
    client = client_for(staff_without_permissions)
    obj = records[name]
    for url in (PAGES[name], f"{PAGES[name]}{obj.pk}/change/", f"{PAGES[name]}{obj.pk}/history/"):
        assert client.get(url).status_code == 403
    assert not AccessEntry.objects.filter(actor=staff_without_permissions).exists()


@pytest.mark.parametrize(
    "params",
    [
        {"created_at__year": "99999999999"},
        {"created_at__year": "9999", "created_at__month": "12", "created_at__day": "31"},
        {"created_at__year": "2026", "created_at__month": "99999999999"},
        {"created_at__year": "x"},
        {"p": "99999999999"},
        {"o": "99999999999"},
        {"target_listing__site__id__exact": "99999999999999999999999"},
    ],
)
def test_numbers_in_the_address_are_bounded(records, superuser, client_for, params):
    response = client_for(superuser).get(PAGES["referral"], params, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "not a date this list can show" in page
        or "could not be applied" in page
        or "Select referral to view" in page
    )


def test_a_record_number_out_of_range_is_not_found(records, superuser, client_for):
    response = client_for(superuser).get(f"{PAGES['referral']}99999999999999999999999/change/")
    assert response.status_code == 302


def test_message_list_names_the_patient_and_is_recorded_once_per_patient(
    records, world, superuser, client_for
):
    # Two messages on one referral: one entry for its patient, not one per row.
    services.message_post(referral=records["referral"], author=world.specialist, text="More")
    since = last_entry_id()
    client_for(superuser).get(PAGES["message"])
    entries = new_entries(superuser, since)
    assert [entry.patient_health_card for entry in entries] == [HEALTH_CARD]
    assert Message.objects.count() == 2
