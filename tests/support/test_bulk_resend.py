"""Bulk re-send: a confirmation page with the count, only failed reports requeued (Transaction IDs
kept), in batches, recorded with who and why; from the admin list and the dashboard."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from hrm.delivery.services.alerts import alerts_digest_send
from hrm.models import HrmAlert, HrmAlertReport, HrmBulkResend, HrmReport
from referrals.models import Message, ReferralEvent

from .conftest import GAVE_UP, PERMISSION, post_message

Status = HrmReport.Status
URL = "/admin/hrm/console/resend/"


def selection_key(location: str) -> str:
    """The re-send page's address names the kept selection, never the reports."""
    path, query = location.split("?")
    assert path.endswith(URL) and re.fullmatch(r"selection=[\w-]{16,32}", query)
    return query.removeprefix("selection=")


@pytest.fixture
def mixed(live):
    reports = [r for n in range(4) for r in post_message(live, text=f"Note {n}").hrm_reports.all()]
    failed, sent, queued = reports[:5], reports[5:7], reports[7:]
    HrmReport.objects.filter(pk__in=[r.pk for r in failed]).update(
        status=Status.FAILED, last_error=GAVE_UP, attempts=3
    )
    HrmReport.objects.filter(pk=failed[0].pk).update(last_error=PERMISSION)
    HrmReport.objects.filter(pk__in=[r.pk for r in sent]).update(status=Status.SENT)
    return {"all": reports, "failed": failed, "sent": sent, "queued": queued}


def test_the_admin_action_asks_first_then_requeues_only_failed_reports_in_batches(
    mixed, support, client_for, settings, django_capture_on_commit_callbacks
):
    settings.HRM_BULK_RESEND_BATCH_SIZE = 2
    settings.HRM_BULK_RESEND_BATCH_INTERVAL_SECONDS = 60
    client = client_for(support)
    ids = [r.pk for r in mixed["all"]]
    before = dict(HrmReport.objects.values_list("pk", "transaction_id"))
    response = client.post(
        "/admin/hrm/hrmreport/",
        {"action": "resend_failed", "_selected_action": ids},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "5 failed reports will be requeued" in page
    assert "in 3 batches over about 2 minutes" in page
    assert "Left alone: 2 already sent, 1 still on their way." in page
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 5  # nothing yet

    # A reason is required.
    form = {"selection": selection_key(response["Location"]), "confirm": "Re-send 5 reports"}
    refused = client.post(URL, {**form, "reason": "  "}).content.decode()
    assert "Say why these reports are re-sent" in refused
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 5

    with django_capture_on_commit_callbacks(execute=False):
        done = client.post(URL, {**form, "reason": "OntarioMD fixed the folder permissions"})
    assert done.status_code == 302
    failed = HrmReport.objects.filter(pk__in=[r.pk for r in mixed["failed"]]).order_by("pk")
    assert {r.status for r in failed} == {Status.QUEUED}
    assert all(r.attempts == 0 and r.last_error == "" and r.resent_by == support for r in failed)
    assert dict(HrmReport.objects.values_list("pk", "transaction_id")) == before
    due = [r.next_attempt_at for r in failed]
    start = due[0]
    assert [round((d - start) / timedelta(seconds=60)) for d in due] == [0, 0, 1, 1, 2]
    assert (
        HrmReport.objects.filter(pk__in=[r.pk for r in mixed["sent"]], status=Status.SENT).count()
        == 2
    )
    record = HrmBulkResend.objects.get()
    assert (record.actor, record.reason) == (support, "OntarioMD fixed the folder permissions")
    assert (record.selected, record.requeued, record.skipped_sent, record.skipped_pending) == (
        8,
        5,
        2,
        1,
    )
    assert record.batches == 3 and sorted(record.report_ids) == sorted(r.pk for r in failed)
    flash = client.get(done["Location"]).content.decode()
    assert "Re-sending 5 report(s) in 3 batch(es)" in flash
    # Each referral's event log says who re-sent what: one line per message re-sent.
    events = ReferralEvent.objects.filter(kind=ReferralEvent.Kind.DELIVERY_RESENT)
    assert events.count() == len({r.message_id for r in failed})
    assert {event.actor for event in events} == {support}
    assert sum(int(event.description.split()[1]) for event in events) == 5


def test_the_dashboard_resends_failed_reports_by_error(mixed, support, client_for):
    client = client_for(support)
    page = client.get(URL, {"error_class": "unreachable"}).content.decode()
    assert "4 failed reports will be requeued" in page
    client.post(URL, {"error_class": "unreachable", "reason": "HRM back", "confirm": "1"})
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 1  # the permission one
    assert "failed reports with error" in HrmBulkResend.objects.get().selection
    dashboard = client.get("/admin/hrm/console/dashboard/").content.decode()
    assert re.search(r'href="/admin/hrm/console/resend/"', dashboard)
    assert "HRM back" in dashboard  # recent bulk re-sends


def test_staff_who_only_watch_cannot_resend(mixed, watcher, client_for):
    client = client_for(watcher)
    ids = ",".join(str(r.pk) for r in mixed["failed"])
    assert client.get(URL, {"ids": ids}).status_code == 403
    assert client.post(URL, {"ids": ids, "reason": "x", "confirm": "1"}).status_code == 403
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 5


# --- Any number of reports (an outage leaves thousands) -------------------------------------

MANY = 1100


@pytest.fixture
def outage(live):
    """``MANY`` failed reports, copies of one message's, each on its own message."""
    first = post_message(live, text="Seen.")
    template = first.hrm_reports.first()
    messages = Message.objects.bulk_create(
        Message(referral=first.referral, author=first.author, author_listing=first.author_listing)
        for _ in range(MANY - 1)
    )
    HrmReport.objects.bulk_create(
        HrmReport(
            message=message,
            recipient=template.recipient,
            deliver_to_user_id=template.deliver_to_user_id,
            recipient_name=template.recipient_name,
            transaction_id=f"{template.transaction_id}-{n}",
            report_number=template.report_number,
            xml=b"<report/>",
        )
        for n, message in enumerate(messages)
    )
    HrmReport.objects.exclude(pk=template.pk).filter(message=first).delete()
    HrmReport.objects.update(status=Status.FAILED, last_error=GAVE_UP, attempts=3)
    assert HrmReport.objects.count() == MANY
    return HrmReport.objects.order_by("pk")


def test_the_admin_action_takes_any_number_of_reports(
    outage, support, client_for, django_capture_on_commit_callbacks
):
    client = client_for(support)
    # A page shows 100; "Select all 1,100 HRM reports" selects across the pages.
    ids = list(outage.values_list("pk", flat=True)[:100])
    response = client.post(
        "/admin/hrm/hrmreport/?status__exact=failed",
        {"action": "resend_failed", "select_across": "1", "index": "0", "_selected_action": ids},
    )
    assert response.status_code == 302 and len(response["Location"]) < 100
    page = client.get(response["Location"])
    assert f"{MANY} failed reports will be requeued" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        done = client.post(
            URL,
            {
                "selection": selection_key(response["Location"]),
                "reason": "HRM back",
                "confirm": "1",
            },
        )
    assert done.status_code == 302
    assert HrmReport.objects.filter(status=Status.QUEUED).count() == MANY
    assert HrmBulkResend.objects.get().selection == f"{MANY} selected report(s)"


def test_the_digest_links_to_any_number_of_reports(
    outage, support, client_for, django_capture_on_commit_callbacks
):
    alert = HrmAlert.objects.create(
        kind=HrmAlert.Kind.FAILURE,
        state=HrmAlert.State.HELD,
        message=outage.first().message,
        subject="HRM delivery failed",
        body="",
    )
    HrmAlertReport.objects.bulk_create(
        HrmAlertReport(
            alert=alert, report=report, delivery_started_at=report.delivery_started_at, error="x"
        )
        for report in outage
    )
    with django_capture_on_commit_callbacks(execute=True):
        alerts_digest_send(now=timezone.now() + timedelta(days=1))
    [digest] = [m for m in mail.outbox if m.to == ["support@ereferral.example"]]
    link = re.search(r"Re-send them: (\S+)", digest.body)[1]
    assert len(link) < 150
    client = client_for(support)
    page = client.get(link.removeprefix(settings.SITE_URL))
    assert f"{MANY} failed reports will be requeued" in page.content.decode()
    client.post(URL, {"selection": selection_key(link), "reason": "HRM back", "confirm": "1"})
    assert HrmReport.objects.filter(status=Status.QUEUED).count() == MANY


def test_an_old_link_with_ids_is_kept_as_a_selection(mixed, support, client_for):
    ids = ",".join(str(r.pk) for r in mixed["failed"])
    response = client_for(support).get(URL, {"ids": ids})
    assert response.status_code == 302 and selection_key(response["Location"])
    page = client_for(support).get(response["Location"]).content.decode()
    assert "5 failed reports will be requeued" in page


def test_a_confirmation_page_from_before_posts_its_ids(mixed, support, client_for):
    ids = ",".join(str(r.pk) for r in mixed["failed"][:2])
    client_for(support).post(URL, {"ids": ids, "reason": "x", "confirm": "1"})
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 3


def test_an_unknown_selection_says_so(mixed, support, client_for):
    page = client_for(support).get(URL, {"selection": "nothing-kept-here-0000"})
    assert page.status_code == 400
    assert "select the reports again" in page.content.decode()


@pytest.mark.parametrize("hours", ["99999999999", "0", "-1", "1.5", "²", "24x"])
def test_hours_out_of_bounds_get_a_clear_message(mixed, support, client_for, hours):
    client = client_for(support)
    for response in (
        client.get(URL, {"hours": hours}),
        client.post(URL, {"hours": hours, "reason": "x", "confirm": "1"}),
    ):
        assert response.status_code == 400
        assert "Hours must be a whole number from 1 to 8,784" in response.content.decode()
    assert HrmReport.objects.filter(status=Status.FAILED).count() == 5
    assert client.get(URL, {"hours": "8784"}).status_code == 200


def test_a_nul_in_the_recipient_gets_a_clear_message(mixed, support, client_for):
    response = client_for(support).get(URL, {"recipient": "D1\x002"})
    assert response.status_code == 400
    assert "cannot contain a NUL character" in response.content.decode()
