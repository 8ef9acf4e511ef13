"""Importing OntarioMD's list of approved HRM receivers: the management command, the service it
shares with the admin and the benchmark, and the admin's upload -> preview -> confirm pages
(driven here through the test client; tests/browser drives them in Chromium).

Every file is written out here, so each test shows the bytes it imports.
"""

import hashlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from directory.models import User
from hrm.models import HrmReceiver, ReceiverImport
from hrm.receivers import services as receiver_services
from hrm.receivers.selectors import receiver_import_preview
from tests.admin_pages import admin_search
from tests.factories import PASSWORD

HEADER = "Professional ID,First Name,Last Name\n"
ROOT = Path(__file__).resolve().parents[2]


def receiver_csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(f"{row}\n" for row in rows)).encode()


def numbered_rows(count: int, start: int = 10001) -> list[str]:
    return [f"D{n},First{n},Last{n}" for n in range(start, start + count)]


@pytest.fixture
def import_file(tmp_path):
    def write(content: bytes, name: str = "receivers.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


def run_import(path: Path, *options: str) -> list[str]:
    """Run the command; return its stdout lines."""
    out = io.StringIO()
    call_command("import_hrm_receivers", str(path), *options, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def run_refused(path: Path, *options: str) -> tuple[str, list[str]]:
    """Run a command that must fail; return its error and its stderr lines."""
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_hrm_receivers", str(path), *options, stdout=io.StringIO(), stderr=err)
    return str(refused.value), err.getvalue().splitlines()


def receivers_now(active: bool = True) -> dict[str, tuple[str, str]]:
    rows = HrmReceiver.objects.filter(is_active=active).values_list(
        "professional_id", "first_name", "last_name"
    )
    return {pid: (first, last) for pid, first, last in rows}


# --- The command: what an import does ---------------------------------------------------------


def test_first_import_adds_every_receiver_and_records_the_import(db, import_file):
    content = receiver_csv(
        "D12345,Alice,Nguyen", "CPSO 67890,François,Lee", "N1234567,Grace,Okafor"
    )
    path = import_file(content)

    lines = run_import(path)

    assert lines[-1] == "added=3 removed=0 changed=0 unchanged=0"
    assert "  + CPSO 67890  François Lee" in lines
    assert receivers_now() == {
        "D12345": ("Alice", "Nguyen"),
        "D67890": ("François", "Lee"),
        "N1234567": ("Grace", "Okafor"),
    }
    record = ReceiverImport.objects.get()
    assert record.status == ReceiverImport.Status.APPLIED
    assert record.file_name == "receivers.csv"
    assert record.sha256 == hashlib.sha256(content).hexdigest()
    assert bytes(record.content) == content
    assert record.uploaded_by is None
    assert "manage.py import_hrm_receivers" in record.uploaded_by_name
    assert record.applied_at is not None
    assert (record.added, record.removed, record.changed, record.unchanged) == (3, 0, 0, 0)
    assert set(HrmReceiver.objects.values_list("added_by_import", flat=True)) == {record.pk}


def test_re_importing_the_same_file_is_all_unchanged_and_writes_no_receiver(db, import_file):
    path = import_file(receiver_csv(*numbered_rows(50)))
    run_import(path)
    before = list(HrmReceiver.objects.order_by("pk").values_list("pk", "updated_at"))

    with CaptureQueriesContext(connection) as queries:
        lines = run_import(path)

    assert lines[-1] == "added=0 removed=0 changed=0 unchanged=50"
    receiver_table = HrmReceiver._meta.db_table
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if receiver_table in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert writes == []
    assert list(HrmReceiver.objects.order_by("pk").values_list("pk", "updated_at")) == before
    assert ReceiverImport.objects.filter(status="applied").count() == 2
    assert ReceiverImport.objects.first().unchanged == 50


def test_an_import_adds_removes_and_renames_against_the_active_list(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(20), "D67890,Frank,Lee"), "first.csv"))

    # D10001 leaves the list, D67890 is now spelled as OntarioMD corrected it, D55555 is new.
    second = receiver_csv(
        *numbered_rows(19, start=10002), "D67890,François,Lee", "D55555,Ann,Smith"
    )
    lines = run_import(import_file(second, "second.csv"))

    assert lines[-1] == "added=1 removed=1 changed=1 unchanged=19"
    assert "  + CPSO 55555  Ann Smith" in lines
    assert "  - CPSO 10001  First10001 Last10001" in lines
    assert "  ~ CPSO 67890  Frank Lee -> François Lee" in lines
    assert receivers_now()["D67890"] == ("François", "Lee")
    assert "D10001" not in receivers_now()
    gone = HrmReceiver.objects.get(professional_id="D10001")
    assert gone.is_active is False
    assert gone.deactivated_at is not None
    second_import = ReceiverImport.objects.get(file_name="second.csv")
    assert gone.updated_by_import == second_import
    renamed = HrmReceiver.objects.get(professional_id="D67890")
    assert renamed.updated_by_import == second_import
    assert renamed.added_by_import == ReceiverImport.objects.get(file_name="first.csv")
    assert renamed.updated_at > renamed.created_at


def test_a_removed_receiver_who_reappears_is_reactivated_and_counted_as_added(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(20))))
    run_import(import_file(receiver_csv(*numbered_rows(19, start=10002))))
    assert HrmReceiver.objects.get(professional_id="D10001").is_active is False

    lines = run_import(
        import_file(receiver_csv("D10001,First10001,Last-Again", *numbered_rows(19, start=10002)))
    )

    assert lines[-1] == "added=1 removed=0 changed=0 unchanged=19"
    back = HrmReceiver.objects.get(professional_id="D10001")
    assert (back.is_active, back.deactivated_at, back.last_name) == (True, None, "Last-Again")
    assert HrmReceiver.objects.count() == 20  # the same row, not a second one


def test_a_dry_run_shows_the_changes_and_changes_nothing(db, import_file):
    run_import(import_file(receiver_csv("D12345,Alice,Nguyen", "D67890,Frank,Lee")))
    before = receivers_now()

    lines = run_import(
        import_file(receiver_csv("D12345,Alice,Nguyen", "D67890,François,Lee", "D55555,Ann,Smith")),
        "--dry-run",
    )

    assert lines[-1] == "added=1 removed=0 changed=1 unchanged=1 (dry run)"
    assert "  ~ CPSO 67890  Frank Lee -> François Lee" in lines
    assert receivers_now() == before
    assert ReceiverImport.objects.count() == 1  # only the first, real import


def test_the_command_lists_at_most_twenty_of_each_kind_unless_asked_for_all(db, import_file):
    path = import_file(receiver_csv(*numbered_rows(25)))

    lines = run_import(path, "--dry-run")
    assert lines[0] == "Added (25):"
    assert sum(line.startswith("  + ") for line in lines) == 20
    assert "  … and 5 more (--verbosity 2 lists all)." in lines

    everything = run_import(path, "--dry-run", "--verbosity", "2")
    assert sum(line.startswith("  + ") for line in everything) == 25
    assert run_import(path, "--dry-run", "--verbosity", "0") == [
        "added=25 removed=0 changed=0 unchanged=0 (dry run)"
    ]


ACCEPTED_FORMS = {
    "utf8-bom.csv": ("\ufeff" + HEADER + "D12345,Hélène,Côté\n").encode(),
    "excel-semicolons.csv": (
        "Professional ID;First Name;Last Name\r\nD12345;Hélène;Côté\r\n".encode("cp1252")
    ),
    "quoted-odd-headers.csv": (
        '"professional_id","FIRST NAME","last-name","Notes"\n'
        '"D12345","Hélène","Côté","a, b"\n'.encode()
    ),
    "bare-digits.csv": (
        "Licence Type,Professional ID,First Name,Last Name\nCPSO,12345,Hélène,Côté\n".encode()
    ),
}


@pytest.mark.parametrize("name", ACCEPTED_FORMS)
def test_every_accepted_csv_form_imports_the_same_receiver(db, import_file, name):
    lines = run_import(import_file(ACCEPTED_FORMS[name], name))

    assert lines[-1] == "added=1 removed=0 changed=0 unchanged=0"
    assert receivers_now() == {"D12345": ("Hélène", "Côté")}


def test_an_xlsx_workbook_imports(db, import_file):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Professional ID", "First Name", "Last Name", "Licence Type"])
    sheet.append([67890, "François", "Lee", "CPSO"])
    sheet.append(["N1234567", "Grace", "Okafor", None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    lines = run_import(import_file(buffer.getvalue(), "receivers.xlsx"))

    assert lines[-1] == "added=2 removed=0 changed=0 unchanged=0"
    assert receivers_now() == {"D67890": ("François", "Lee"), "N1234567": ("Grace", "Okafor")}


def test_exact_duplicate_rows_are_merged(db, import_file):
    lines = run_import(
        import_file(receiver_csv("D12345,Alice,Nguyen", "D12345,Alice,Nguyen", "D67890,Frank,Lee"))
    )

    assert lines[-1] == "added=2 removed=0 changed=0 unchanged=0"
    assert HrmReceiver.objects.count() == 2


# --- The command: files that are refused -------------------------------------------------------


def test_any_invalid_row_rejects_the_whole_file_and_every_problem_is_listed(db, import_file):
    run_import(import_file(receiver_csv("D12345,Alice,Nguyen")))
    content = receiver_csv(
        "D67890,Frank,Lee",  # line 2: fine
        "X1,Bad,Id",  # line 3
        "D24680,,Patel",  # line 4
        "D67890,François,Lee",  # line 5: the same ID as line 2 with another name
        "12345,No,College",  # line 6
    )

    message, stderr = run_refused(import_file(content, "bad.csv"))

    assert [line.split(":")[0] for line in stderr] == ["line 3", "line 4", "line 5", "line 6"]
    assert "line 4: First Name is missing." in stderr
    assert stderr[2].startswith("line 5: Professional ID D67890 is also on line 2")
    assert "Say whether this is a CPSO or a CNO number" in stderr[3]
    assert message == "Nothing was imported: bad.csv has 4 problems."
    assert receivers_now() == {"D12345": ("Alice", "Nguyen")}
    assert ReceiverImport.objects.count() == 1


NOT_RECEIVER_LISTS = {
    "missing column": (
        b"Professional ID,First Name,Surname\nD12345,Alice,Nguyen\n",
        'missing the "Last Name" column',
    ),
    "empty": (b"", "is empty"),
    "blank lines": (b"\r\n \r\n", "is empty"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "is a PDF"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a CSV or Excel (.xlsx) file"),
    "broken zip": (b"PK\x03\x04not really a workbook", "not a readable Excel (.xlsx) workbook"),
}


@pytest.mark.parametrize("kind", NOT_RECEIVER_LISTS)
def test_a_file_that_is_not_a_receiver_list_gets_one_clear_error(db, import_file, kind):
    content, expected = NOT_RECEIVER_LISTS[kind]
    message, stderr = run_refused(import_file(content, "upload.csv"))

    assert len(stderr) == 1
    assert expected in stderr[0]
    assert message == "Nothing was imported: upload.csv has 1 problem."
    assert HrmReceiver.objects.count() == 0
    assert ReceiverImport.objects.count() == 0


def test_a_missing_file_is_a_clear_error(db, tmp_path):
    message, _ = run_refused(tmp_path / "nowhere.csv")
    assert message.startswith(f"Cannot read {tmp_path / 'nowhere.csv'}: No such file")


# --- The command: mass removal -----------------------------------------------------------------


def test_removing_more_than_ten_percent_is_refused_without_the_flag(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(20))))
    truncated = import_file(receiver_csv(*numbered_rows(17)), "truncated.csv")  # 3 of 20 = 15 %

    message, _ = run_refused(truncated)

    assert "would remove 3 of the 20 active receivers (15 %)" in message
    assert "--allow-mass-removal" in message
    assert len(receivers_now()) == 20
    assert ReceiverImport.objects.count() == 1

    lines = run_import(truncated, "--allow-mass-removal")

    assert lines[-1] == "added=0 removed=3 changed=0 unchanged=17"
    assert len(receivers_now()) == 17
    assert ReceiverImport.objects.get(file_name="truncated.csv").allowed_mass_removal is True


def test_removing_exactly_ten_percent_needs_no_flag(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(20))))

    lines = run_import(import_file(receiver_csv(*numbered_rows(18)), "ok.csv"))

    assert lines[-1] == "added=0 removed=2 changed=0 unchanged=18"
    assert ReceiverImport.objects.get(file_name="ok.csv").allowed_mass_removal is False


def test_a_header_only_file_would_remove_everyone_and_is_refused(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(5))))

    message, _ = run_refused(import_file(receiver_csv(), "header-only.csv"))

    assert "would remove 5 of the 5 active receivers (100 %)" in message
    assert len(receivers_now()) == 5


def test_a_dry_run_of_a_mass_removal_shows_it_and_fails_as_the_import_would(db, import_file):
    run_import(import_file(receiver_csv(*numbered_rows(10))))
    path = import_file(receiver_csv(*numbered_rows(5)), "half.csv")

    message, _ = run_refused(path, "--dry-run")
    assert "would remove 5 of the 10 active receivers (50 %)" in message

    lines = run_import(path, "--dry-run", "--allow-mass-removal")
    assert lines[-1] == "added=0 removed=5 changed=0 unchanged=5 (dry run)"
    assert len(receivers_now()) == 10


# --- The command as a process: exit status and the last line ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_bad_file_and_prints_the_summary_last(import_file):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": _database_url(),
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "import_hrm_receivers", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    bad = manage(str(import_file(receiver_csv("D12345,,Nguyen", "D1,Bo,"), "bad.csv")))
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[:2] == [
        "line 2: First Name is missing.",
        "line 3: Last Name is missing.",
    ]
    assert "CommandError: Nothing was imported: bad.csv has 2 problems." in bad.stderr

    good = manage(str(import_file(receiver_csv("D12345,Alice,Nguyen"), "good.csv")))
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[-1] == "added=1 removed=0 changed=0 unchanged=0"
    assert receivers_now() == {"D12345": ("Alice", "Nguyen")}


def _database_url() -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


# --- Imports are serialised ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_import_waits_for_one_already_running(import_file):
    """While one import holds the receiver list, another cannot start changing it."""
    holding, release = threading.Event(), threading.Event()

    def other_import():
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                receiver_services._lock_receiver_list()
                holding.set()
                release.wait(10)
        finally:
            thread_connection.close()

    thread = threading.Thread(target=other_import)
    thread.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            receiver_services.receiver_list_import(
                content=receiver_csv("D12345,Alice,Nguyen"), file_name="second.csv"
            )
        assert HrmReceiver.objects.count() == 0
        assert ReceiverImport.objects.count() == 0
    finally:
        release.set()
        thread.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    result = receiver_services.receiver_list_import(
        content=receiver_csv("D12345,Alice,Nguyen"), file_name="second.csv"
    )
    assert result.summary == "added=1 removed=0 changed=0 unchanged=0"


# --- The admin: upload, preview, confirm --------------------------------------------------------

UPLOAD_URL = "/admin/hrm/receiverimport/upload/"


@pytest.fixture
def support(db):
    return User.objects.create_superuser("support", "support@example.org", PASSWORD)


@pytest.fixture
def support_client(client, support):
    client.force_login(support)
    return client


def upload(client, content: bytes, name: str = "receivers.csv"):
    return client.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, content, "text/csv")})


def preview_url(receiver_import: ReceiverImport) -> str:
    return f"/admin/hrm/receiverimport/{receiver_import.pk}/preview/"


def test_admin_upload_shows_a_preview_and_changes_nothing_until_confirmed(support_client):
    response = upload(support_client, receiver_csv("D12345,Alice,Nguyen", "D67890,François,Lee"))

    receiver_import = ReceiverImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == preview_url(receiver_import)
    assert receiver_import.status == ReceiverImport.Status.PREVIEWED
    assert receiver_import.uploaded_by.username == "support"
    assert HrmReceiver.objects.count() == 0

    page = support_client.get(preview_url(receiver_import)).content.decode()
    assert "added=2 removed=0 changed=0 unchanged=0" in page
    assert '<td data-count="added">2</td>' in page
    assert "<td>CPSO 67890</td><td>François</td><td>Lee</td>" in page
    assert "Apply this import" in page
    assert "allow_mass_removal" not in page


def test_admin_confirm_applies_the_previewed_file(support_client):
    upload(support_client, receiver_csv("D12345,Alice,Nguyen", "D67890,François,Lee"))
    receiver_import = ReceiverImport.objects.get()
    fingerprint = (
        support_client.get(preview_url(receiver_import)).context["form"]["fingerprint"].value()
    )

    response = support_client.post(
        preview_url(receiver_import), {"decision": "apply", "fingerprint": fingerprint}, follow=True
    )

    assert response.redirect_chain[-1][0] == "/admin/hrm/hrmreceiver/"
    page = response.content.decode()
    assert "Imported receivers.csv: added=2 removed=0 changed=0 unchanged=0." in page
    assert "CPSO 67890" in page
    receiver_import.refresh_from_db()
    assert receiver_import.status == ReceiverImport.Status.APPLIED
    assert (receiver_import.added, receiver_import.unchanged) == (2, 0)
    assert receivers_now() == {"D12345": ("Alice", "Nguyen"), "D67890": ("François", "Lee")}
    assert LogEntry.objects.get(object_id=str(receiver_import.pk)).change_message == (
        "Applied: added=2 removed=0 changed=0 unchanged=0."
    )

    # Confirming twice (a double click, the back button) applies nothing more.
    again = support_client.post(
        preview_url(receiver_import), {"decision": "apply", "fingerprint": fingerprint}
    )
    assert "This upload was already applied." in again.content.decode()
    assert ReceiverImport.objects.get().applied_at == receiver_import.applied_at


def test_admin_upload_of_an_invalid_file_lists_every_problem_and_stores_nothing(support_client):
    response = upload(
        support_client, receiver_csv("X1,Bad,Id", "D24680,,Patel", "D1,Ann,"), "bad.csv"
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was imported: “bad.csv” has 3 problems." in page
    for problem in (
        "line 2: Professional ID &quot;X1&quot;",
        "line 3: First Name is missing.",
        "line 4: Last Name is missing.",
    ):
        assert problem in page
    assert ReceiverImport.objects.count() == 0


def test_admin_upload_of_a_file_with_a_missing_column_says_which(support_client):
    response = upload(support_client, b"Professional ID,Name\nD12345,Alice Nguyen\n", "odd.csv")

    page = response.content.decode()
    assert "Nothing was imported: “odd.csv” has 1 problem." in page
    assert "is missing the &quot;First Name&quot;, &quot;Last Name&quot; columns" in page
    assert ReceiverImport.objects.count() == 0


def test_admin_mass_removal_needs_the_explicit_confirmation(support_client):
    receiver_services.receiver_list_import(
        content=receiver_csv(*numbered_rows(10)), file_name="all.csv"
    )
    upload(support_client, receiver_csv(*numbered_rows(5)), "half.csv")
    receiver_import = ReceiverImport.objects.get(file_name="half.csv")
    page = support_client.get(preview_url(receiver_import))
    assert "This list would remove 5 of the 10 active" in page.content.decode()
    fingerprint = page.context["form"]["fingerprint"].value()

    unticked = support_client.post(
        preview_url(receiver_import), {"decision": "apply", "fingerprint": fingerprint}
    )

    assert unticked.status_code == 200
    assert "tick the box to confirm" in unticked.content.decode()
    assert len(receivers_now()) == 10

    ticked = support_client.post(
        preview_url(receiver_import),
        {"decision": "apply", "fingerprint": fingerprint, "allow_mass_removal": "on"},
    )

    assert ticked.status_code == 302
    assert len(receivers_now()) == 5
    receiver_import.refresh_from_db()
    assert (receiver_import.removed, receiver_import.allowed_mass_removal) == (5, True)


def test_admin_confirm_is_refused_when_the_list_changed_since_the_preview(
    support_client, import_file
):
    upload(support_client, receiver_csv("D12345,Alice,Nguyen", "D67890,Frank,Lee"), "mine.csv")
    receiver_import = ReceiverImport.objects.get()
    stale = support_client.get(preview_url(receiver_import)).context["form"]["fingerprint"].value()
    # Meanwhile someone imports from the command line.
    run_import(import_file(receiver_csv("D67890,François,Lee")))

    response = support_client.post(
        preview_url(receiver_import), {"decision": "apply", "fingerprint": stale}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The receiver list changed since this preview" in page
    assert "added=1 removed=0 changed=1 unchanged=0" in page
    assert receivers_now() == {"D67890": ("François", "Lee")}
    receiver_import.refresh_from_db()
    assert receiver_import.status == ReceiverImport.Status.PREVIEWED

    fresh = response.context["form"]["fingerprint"].value()
    support_client.post(preview_url(receiver_import), {"decision": "apply", "fingerprint": fresh})
    assert receivers_now() == {"D12345": ("Alice", "Nguyen"), "D67890": ("Frank", "Lee")}


def test_admin_discard_keeps_the_record_and_changes_nothing(support_client):
    upload(support_client, receiver_csv("D12345,Alice,Nguyen"))
    receiver_import = ReceiverImport.objects.get()

    response = support_client.post(
        preview_url(receiver_import), {"decision": "discard"}, follow=True
    )

    assert "Discarded receivers.csv; nothing changed." in response.content.decode()
    receiver_import.refresh_from_db()
    assert receiver_import.status == ReceiverImport.Status.DISCARDED
    assert HrmReceiver.objects.count() == 0
    assert (
        "This upload was discarded"
        in support_client.get(preview_url(receiver_import)).content.decode()
    )


def test_only_the_uploader_can_apply_their_upload(support_client, client):
    upload(support_client, receiver_csv("D12345,Alice,Nguyen"))
    receiver_import = ReceiverImport.objects.get()
    colleague = User.objects.create_superuser("support2", "s2@example.org", PASSWORD)
    client.force_login(colleague)

    page = client.get(preview_url(receiver_import))
    assert "Only support, who uploaded this file, can apply or discard it." in page.content.decode()
    fingerprint = page.context["form"]["fingerprint"].value()
    response = client.post(
        preview_url(receiver_import), {"decision": "apply", "fingerprint": fingerprint}
    )

    assert "who uploaded this file, can apply or discard it" in response.content.decode()
    assert HrmReceiver.objects.count() == 0


def test_clinicians_and_staff_without_permission_cannot_import(world, client):
    client.force_login(world.specialist)
    assert client.get(UPLOAD_URL).status_code == 302  # to the admin's sign-in page
    staff = User.objects.create_user("helpdesk", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    assert client.get(UPLOAD_URL).status_code == 403
    assert upload(client, receiver_csv("D12345,Alice,Nguyen")).status_code == 403
    assert ReceiverImport.objects.count() == 0


def test_receiver_admin_finds_a_receiver_by_the_id_people_type(support_client):
    receiver_services.receiver_list_import(
        content=receiver_csv("D12345,Alice,Nguyen", "D67890,François,Lee"), file_name="r.csv"
    )

    page = admin_search(support_client, "/admin/hrm/hrmreceiver/", "CPSO 67890").content.decode()

    assert "François" in page
    assert "Alice" not in page
    assert "Add HRM receiver" not in page  # the list changes only by importing


def test_import_records_list_and_detail_pages_load(support_client):
    receiver_services.receiver_list_import(
        content=receiver_csv("D12345,Alice,Nguyen"), file_name="r.csv"
    )
    receiver_import = ReceiverImport.objects.get()

    listing = admin_search(support_client, "/admin/hrm/receiverimport/", "r.csv").content.decode()
    assert "Import a receiver list" in listing
    assert "r.csv" in listing
    detail = support_client.get(f"/admin/hrm/receiverimport/{receiver_import.pk}/change/")
    assert detail.status_code == 200
    assert receiver_import.sha256 in detail.content.decode()
    # "Add" leads to the upload page, never to a form that would bypass the preview.
    assert support_client.get("/admin/hrm/receiverimport/add/")["Location"] == UPLOAD_URL


def test_applying_a_preview_after_another_import_is_refused_with_the_new_preview(support):
    receiver_import = receiver_services.receiver_import_create(
        content=receiver_csv("D12345,Alice,Nguyen"), file_name="mine.csv", actor=support
    )
    confirmed = receiver_import_preview(receiver_import).fingerprint
    # Another import lands between the preview and the confirmation.
    receiver_services.receiver_list_import(
        content=receiver_csv("D12345,Alice,Nguyen", "D67890,Frank,Lee"), file_name="other.csv"
    )

    with pytest.raises(receiver_services.ReceiverListChangedError) as refused:
        receiver_services.receiver_import_apply(
            receiver_import=receiver_import, actor=support, expected_fingerprint=confirmed
        )

    assert refused.value.preview.diff.summary() == "added=0 removed=1 changed=0 unchanged=1"
    receiver_import.refresh_from_db()
    assert receiver_import.status == ReceiverImport.Status.PREVIEWED
    assert receivers_now() == {"D12345": ("Alice", "Nguyen"), "D67890": ("Frank", "Lee")}
