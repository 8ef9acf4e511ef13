"""Bulk re-send: a confirmation page with the count, only failed reports requeued (Transaction IDs
kept), in batches, recorded with who and why; from the admin list and the dashboard."""

import re
from datetime import timedelta

import pytest

from hrm.models import ErrorClass, HrmBulkResend, HrmReport
from referrals.models import ReferralEvent

from .conftest import GAVE_UP, PERMISSION, post_message

Status = HrmReport.Status
URL = "/admin/hrm/console/resend/"


@pytest.fixture
def mixed(live):
    reports = [r for n in range(4) for r in post_message(live, text=f"Note {n}").hrm_reports.all()]
    failed, sent, queued = reports[:5], reports[5:7], reports[7:]
    HrmReport.objects.filter(pk__in=[r.pk for r in failed]).update(
        status=Status.FAILED, last_error=GAVE_UP, error_class=ErrorClass.UNREACHABLE, attempts=3
    )
    HrmReport.objects.filter(pk=failed[0].pk).update(
        last_error=PERMISSION, error_class=ErrorClass.PERMISSION
    )
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
    form = {"ids": ",".join(map(str, ids)), "confirm": "Re-send 5 reports"}
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
