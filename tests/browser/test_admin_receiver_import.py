"""Support staff import OntarioMD's receiver list in the admin, in Chromium: upload, read the
preview, confirm; and a list that would remove too many receivers needs the explicit tick."""

import re

import pytest
from playwright.sync_api import expect

from directory.models import User
from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers.services import receiver_list_import

from ..factories import PASSWORD
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "Professional ID,First Name,Last Name,Licence Type\n"


def receiver_csv(*rows: str) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


@pytest.fixture
def support(db):
    return User.objects.create_superuser("support", "support@example.org", PASSWORD)


def open_upload_page(page, live_server):
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Receiver imports").click()
    page.get_by_role("link", name="Import a receiver list").click()
    expect(page.get_by_role("heading", name="Import OntarioMD's receiver list")).to_be_visible()


def test_support_uploads_previews_and_confirms_a_receiver_list(
    support, live_server, page, artifacts_dir, tmp_path
):
    upload = tmp_path / "receivers.csv"
    upload.write_bytes(
        receiver_csv("12345,Alice,Nguyen,CPSO", "D67890,François,Lee,", "1234567,Grace,Okafor,CNO")
    )
    open_upload_page(page, live_server)

    page.get_by_label("Receiver list").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name="Import of receivers.csv")).to_be_visible()
    expect(page.locator("#summary")).to_have_text("added=3 removed=0 changed=0 unchanged=0")
    added = page.locator("#added")
    expect(added.get_by_role("row")).to_have_count(4)  # the header and three receivers
    expect(added.get_by_role("row", name=re.compile("CPSO 67890 François Lee"))).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "admin-receiver-import-preview.png"), full_page=True)
    assert HrmReceiver.objects.count() == 0  # nothing until confirmed

    page.get_by_role("button", name="Apply this import").click()

    expect(
        page.get_by_text("Imported receivers.csv: added=3 removed=0 changed=0 unchanged=0.")
    ).to_be_visible()
    results = page.locator("#result_list")
    for name in ("Nguyen", "Lee", "Okafor"):
        expect(results.get_by_role("row", name=re.compile(name))).to_be_visible()
    expect(results.get_by_text("CNO 1234567")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "admin-receivers.png"), full_page=True)
    receiver_import = ReceiverImport.objects.get()
    assert receiver_import.status == ReceiverImport.Status.APPLIED
    assert receiver_import.uploaded_by == support


def test_a_bad_file_lists_its_problems_and_a_mass_removal_needs_the_tick(
    support, live_server, page, artifacts_dir, tmp_path
):
    receiver_list_import(
        content=receiver_csv(*[f"D{n},First{n},Last{n}," for n in range(10001, 10011)]),
        file_name="current.csv",
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes(receiver_csv("D10001,First10001,Last10001,", "D10002,,Last10002,", "X9,A,B,"))
    half = tmp_path / "half.csv"
    half.write_bytes(receiver_csv(*[f"D{n},First{n},Last{n}," for n in range(10001, 10006)]))
    open_upload_page(page, live_server)

    page.get_by_label("Receiver list").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()

    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("Nothing was imported: “bad.csv” has 2 problems.")
    expect(problems.get_by_role("listitem")).to_have_count(2)
    expect(problems).to_contain_text("line 3: First Name is missing.")
    expect(problems).to_contain_text('line 4: Professional ID "X9"')

    page.get_by_label("Receiver list").set_input_files(str(half))
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.locator("#summary")).to_have_text("added=0 removed=5 changed=0 unchanged=5")
    expect(page.locator("#mass-removal")).to_contain_text(
        "This list would remove 5 of the 10 active receivers (50 %)"
    )
    page.get_by_role("button", name="Apply this import").click()
    expect(page.get_by_text("tick the box to confirm")).to_be_visible()
    assert HrmReceiver.objects.filter(is_active=True).count() == 10

    page.get_by_label("Yes, remove 5 of the 10 active receivers").check()
    page.screenshot(path=str(artifacts_dir / "admin-receiver-mass-removal.png"), full_page=True)
    page.get_by_role("button", name="Apply this import").click()

    expect(
        page.get_by_text("Imported half.csv: added=0 removed=5 changed=0 unchanged=5.")
    ).to_be_visible()
    assert HrmReceiver.objects.filter(is_active=True).count() == 5
    assert HrmReceiver.objects.count() == 10  # removed receivers are kept, deactivated
    assert ReceiverImport.objects.get(file_name="half.csv").allowed_mass_removal is True
