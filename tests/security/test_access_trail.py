"""The access trail: every look at a patient's information is recorded (who, when, which
referral, patient or file, and what), nobody can change or delete an entry, and support finds
entries by user, patient, referral and date, exports a date range, and sees who looked at one
patient's record."""

import csv
import datetime
import io

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from audit.models import AccessEntry, AppendOnlyError
from hrm.models import HrmReport
from referrals import services
from referrals.models import Attachment

from ..factories import make_referral, pdf_upload

Action = AccessEntry.Action


def entries(**filters):
    return list(AccessEntry.objects.filter(**filters).order_by("id"))


@pytest.fixture
def letter(world, referral):
    message = services.message_post(
        referral=referral, author=world.specialist, text="Letter", files=[pdf_upload("a.pdf")]
    )
    return message.attachments.get()


def test_opening_a_referral_is_recorded_with_the_patient(world, referral, client_for):
    for reader in (world.referrer, world.intake, world.specialist, world.colleague):
        assert client_for(reader).get(referral.get_absolute_url()).status_code == 200
    recorded = entries(action=Action.VIEWED, record="referral")
    assert [entry.actor_id for entry in recorded] == [
        world.referrer.pk,
        world.intake.pk,
        world.specialist.pk,
        world.colleague.pk,
    ]
    entry = recorded[0]
    assert entry.referral_id == referral.pk
    assert entry.actor_username == "dr.nguyen" and entry.actor_name == "Alice Nguyen"
    assert entry.patient_name == "Tremblay, Hélène"
    assert entry.patient_birth_date == datetime.date(1961, 4, 18)
    assert entry.patient_health_card == "9876543217"
    assert entry.ip_address == "127.0.0.1"
    assert abs(entry.at - timezone.now()) < datetime.timedelta(minutes=1)


def test_a_stranger_and_anonymous_see_nothing_and_leave_no_entry(
    world, referral, client, client_for
):
    assert client_for(world.stranger).get(referral.get_absolute_url()).status_code == 404
    assert client.get(referral.get_absolute_url()).status_code == 302
    assert not AccessEntry.objects.exists()


def test_a_download_is_recorded_with_the_file(world, referral, letter, client_for):
    url = f"/referrals/{referral.pk}/attachments/{letter.pk}/"
    assert client_for(world.referrer).get(url).status_code == 200
    assert client_for(world.stranger).get(url).status_code == 404
    [entry] = entries(action=Action.DOWNLOADED)
    assert (entry.actor_id, entry.referral_id, entry.object_id) == (
        world.referrer.pk,
        referral.pk,
        letter.pk,
    )
    assert entry.record == "attachment" and entry.detail == "a.pdf"


def test_a_patient_search_is_recorded_with_its_words_and_results(world, referral, client_for):
    client = client_for(world.specialist)
    client.post("/referrals/", {"folder": "received", "q": "tremblay"})
    client.get("/referrals/?folder=received")
    [entry] = entries(action=Action.SEARCHED)
    assert entry.actor_id == world.specialist.pk
    assert "“tremblay”: 1 referral(s)" in entry.detail and str(referral.pk) in entry.detail
    assert "tremblay" not in entry.path.lower()
    # No search, no entry.
    client.post("/referrals/", {"folder": "received", "q": ""})
    client.get("/referrals/?folder=received")
    assert len(entries(action=Action.SEARCHED)) == 1


def test_hrm_details_and_resend_are_recorded(live, client_for):
    world, referral = live.world, live.referral
    message = services.message_post(referral=referral, author=world.specialist, text="Seen.")
    report = message.hrm_reports.first()
    HrmReport.objects.filter(pk=report.pk).update(status=HrmReport.Status.FAILED)
    client = client_for(world.specialist)
    base = f"/referrals/{referral.pk}/messages/{message.pk}/hrm/"
    assert client.get(base).status_code == 200
    assert client_for(world.stranger).post(f"{base}resend/").status_code == 404
    assert client.post(f"{base}resend/", {"report": report.pk}).status_code == 302
    [viewed] = entries(action=Action.VIEWED, record="HRM details")
    assert viewed.object_id == message.pk and viewed.referral_id == referral.pk
    [resent] = entries(action=Action.RESENT)
    assert resent.object_id == report.pk and resent.detail == report.transaction_id
    assert resent.actor_id == world.specialist.pk


def test_admin_record_pages_are_recorded(
    world, referral, letter, superuser, support_viewer, client_for
):
    for persona in (superuser, support_viewer):
        client = client_for(persona)
        assert client.get(f"/admin/referrals/referral/{referral.pk}/change/").status_code == 200
        assert client.get(f"/admin/referrals/attachment/{letter.pk}/change/").status_code == 200
    recorded = entries(record="referral (admin)")
    assert [entry.actor_id for entry in recorded] == [superuser.pk, support_viewer.pk]
    assert all(entry.patient_health_card == "9876543217" for entry in recorded)
    assert len(entries(record="attachment (admin)", object_id=letter.pk)) == 2


# --- Nobody changes or deletes an entry -------------------------------------------------------


@pytest.fixture
def entry(world, referral, client_for):
    client_for(world.referrer).get(referral.get_absolute_url())
    return AccessEntry.objects.get()


def test_the_model_refuses_change_and_delete(entry):
    entry.detail = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AccessEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AccessEntry.objects.update(detail="rewritten")


def test_the_database_refuses_change_and_delete_from_any_client(entry):
    for statement in (
        "UPDATE audit_accessentry SET detail = 'rewritten'",
        "DELETE FROM audit_accessentry",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    entry_now = AccessEntry.objects.get()
    assert entry_now.detail == entry.detail


def test_the_admin_offers_no_change_or_delete_even_to_a_superuser(entry, superuser, client_for):
    client = client_for(superuser)
    url = f"/admin/audit/accessentry/{entry.pk}/"
    page = client.get(f"{url}change/").content.decode()
    assert "Save" not in page and "Delete" not in page
    assert client.post(f"{url}change/", {"detail": "rewritten"}).status_code == 403
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audit/accessentry/add/").status_code == 403
    changelist = client.post(
        "/admin/audit/accessentry/", {"action": "delete_selected", "_selected_action": [entry.pk]}
    )
    assert changelist.status_code in (200, 302)
    assert AccessEntry.objects.filter(pk=entry.pk, detail=entry.detail).exists()


# --- Support reads, filters, exports ----------------------------------------------------------


def _other_patient_seen(world, client_for):
    other = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Wei",
        patient_last_name="Chen",
        patient_health_card_number="1234567897",
    )
    client_for(world.specialist).get(other.get_absolute_url())
    return other


def test_support_filters_by_user_and_referral(world, referral, support_viewer, client_for):
    client_for(world.referrer).get(referral.get_absolute_url())
    other = _other_patient_seen(world, client_for)
    client = client_for(support_viewer)
    page = client.get("/admin/audit/accessentry/", {"actor_username": "dr.lee"}).content.decode()
    assert "Chen, Wei" in page and "Tremblay, Hélène" not in page
    page = client.get("/admin/audit/accessentry/", {"referral_id": referral.pk}).content.decode()
    assert "Tremblay, Hélène" in page and "Chen, Wei" not in page
    page = client.post(
        "/admin/audit/accessentry/", {"_search": "1", "q": "dr.nguyen"}, follow=True
    ).content.decode()
    assert "Tremblay, Hélène" in page and "Chen, Wei" not in page
    today = timezone.localdate()
    page = client.get(
        "/admin/audit/accessentry/",
        {"at__year": today.year, "at__month": today.month, "at__day": today.day},
    ).content.decode()
    assert "Tremblay, Hélène" in page and "Chen, Wei" in page
    assert other.pk


def test_who_looked_at_this_patients_record(world, referral, letter, support_viewer, client_for):
    client_for(world.referrer).get(referral.get_absolute_url())
    client_for(world.colleague).get(f"/referrals/{referral.pk}/attachments/{letter.pk}/")
    _other_patient_seen(world, client_for)
    client = client_for(support_viewer)
    page = client.post(
        "/admin/audit/accessentry/patient/", {"health_card": "9876-543-217"}
    ).content.decode()
    readers = page.split('id="patient-readers"')[1].split("</table>")[0]
    assert "dr.nguyen" in readers and "dr.patel" in readers
    assert "dr.lee" not in readers  # looked at another patient only
    assert "Downloaded" in readers and "Viewed" in readers
    # By surname and date of birth too.
    page = client.post(
        "/admin/audit/accessentry/patient/",
        {"last_name": "Tremblay", "birth_date": "1961-04-18"},
    ).content.decode()
    assert "dr.patel" in page.split('id="patient-readers"')[1]
    # The look-up is itself recorded.
    lookups = entries(actor=support_viewer, action=Action.SEARCHED)
    assert [entry.patient_health_card for entry in lookups] == ["9876543217", ""]


def test_support_exports_a_date_range_as_csv(world, referral, support_viewer, client_for):
    client_for(world.referrer).get(referral.get_absolute_url())
    old = AccessEntry.objects.create(
        at=timezone.now() - datetime.timedelta(days=40),
        actor_username="dr.old",
        action=Action.VIEWED,
        record="referral",
        detail='=HYPERLINK("http://evil")',
    )
    today = timezone.localdate()
    client = client_for(support_viewer)
    response = client.post(
        "/admin/audit/accessentry/export/",
        {"start": today - datetime.timedelta(days=7), "end": today},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["When", "Username", "Name", "Action"]
    # The referral seen this week, then the export itself (recorded as it starts).
    assert [(row[1], row[3]) for row in rows[1:]] == [
        ("dr.nguyen", "viewed"),
        ("support.viewer", "exported"),
    ]
    assert rows[1][7] == "Tremblay, Hélène" and rows[1][9] == "9876543217"
    assert rows[2][10] == f"{today - datetime.timedelta(days=7):%Y-%m-%d} to {today:%Y-%m-%d}"
    # An old entry with a formula in it is exported as text.
    response = client.post(
        "/admin/audit/accessentry/export/",
        {"start": today - datetime.timedelta(days=60), "end": today},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [rows[1][1], rows[1][10]] == ["dr.old", '\'=HYPERLINK("http://evil")']
    assert old.pk


@pytest.mark.parametrize("persona", ["referrer", "stranger", "anonymous"])
def test_clinicians_and_anonymous_cannot_read_the_trail(world, client, client_for, persona):
    http = client if persona == "anonymous" else client_for(getattr(world, persona))
    for url in (
        "/admin/audit/accessentry/",
        "/admin/audit/accessentry/export/",
        "/admin/audit/accessentry/patient/",
    ):
        response = http.get(url)
        assert response.status_code == 302 and "login/?next=" in response["Location"]


def test_staff_without_the_view_permission_cannot_read_the_trail(world, client_for):
    world.stranger.is_staff = True
    world.stranger.save()
    client = client_for(world.stranger)
    assert client.get("/admin/audit/accessentry/").status_code == 403
    assert client.get("/admin/audit/accessentry/export/").status_code == 403
    assert client.post("/admin/audit/accessentry/patient/", {"health_card": "1"}).status_code == 403


def test_attachments_stay_unchanged_in_the_admin(letter, superuser, client_for):
    page = client_for(superuser).get(f"/admin/referrals/attachment/{letter.pk}/change/")
    assert 'type="file"' not in page.content.decode()
    assert Attachment.objects.get().sha256 == letter.sha256


def test_hrm_export_from_a_shell_is_recorded(live, tmp_path):
    import getpass

    from django.core.management import call_command

    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    HrmReport.objects.filter(message=message).update(xml=b"<report/>")
    call_command("hrm_export", str(tmp_path), "--message", str(message.pk), stdout=io.StringIO())
    exported = entries(action=Action.EXPORTED)
    assert len(exported) == message.hrm_reports.count() == 2
    assert {entry.object_id for entry in exported} == set(
        message.hrm_reports.values_list("pk", flat=True)
    )
    assert all(
        entry.actor_username == f"{getpass.getuser()} (shell: hrm_export)" for entry in exported
    )
    assert all(entry.patient_health_card == "9876543217" for entry in exported)
