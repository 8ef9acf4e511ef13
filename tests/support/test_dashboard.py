"""The dashboard's figures, checked against rows the test made."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from hrm.models import HrmAttempt, HrmHealth, HrmReport

from .conftest import CLASSES, GAVE_UP, PERMISSION, post_message

Status = HrmReport.Status
URL = "/admin/hrm/console/dashboard/"


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}"[^>]*>([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def day_row(html: str, day) -> tuple[int, int]:
    match = re.search(
        rf'<tr data-day="{day:%Y-%m-%d}"><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td></tr>', html
    )
    assert match, day
    return int(match.group(1)), int(match.group(2))


def attempt(report, outcome, when, error=""):
    return HrmAttempt.objects.create(
        report=report,
        number=1,
        started_at=when,
        finished_at=when,
        duration_ms=40,
        worker="celery@test pid 1",
        outcome=outcome,
        error=error,
    )


@pytest.fixture
def rows(live):
    """Ten messages' reports (20 in all, to Dr. Nguyen and Nurse Okafor), in known states."""
    now = timezone.now()
    reports = [r for n in range(10) for r in post_message(live, text=f"Note {n}").hrm_reports.all()]
    sent, failed, queued = reports[:9], reports[9:15], reports[15:]
    for n, report in enumerate(sent):
        # Sent today (5), three days ago (4).
        when = now - timedelta(days=0 if n < 5 else 3)
        HrmReport.objects.filter(pk=report.pk).update(status=Status.SENT, sent_at=when)
    # Shortly before now, but never before local midnight: the chart's "today" must hold them
    # even when the test runs at 00:00:10 in Toronto.
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    recently = max(now - timedelta(seconds=30), midnight)
    for n, report in enumerate(failed):
        # Four failed for good in the last 24 h, two more ten days ago.
        when = recently if n < 4 else now - timedelta(days=10)
        error = PERMISSION if n < 4 else GAVE_UP
        HrmReport.objects.filter(pk=report.pk).update(
            status=Status.FAILED, last_error=error, error_class=CLASSES[error], last_attempt_at=when
        )
        attempt(report, HrmAttempt.Outcome.RETRY, when - timedelta(minutes=5), error)
        attempt(report, HrmAttempt.Outcome.FAILED, when, error)
    oldest = now - timedelta(hours=3, minutes=10)
    HrmReport.objects.filter(pk=queued[0].pk).update(delivery_started_at=oldest)
    HrmReport.objects.filter(pk=queued[1].pk).update(status=Status.SENDING)
    return {"now": now, "sent": sent, "failed": failed, "queued": queued}


def test_the_dashboard_counts_what_the_rows_say(rows, support, client_for):
    html = client_for(support).get(URL).content.decode()
    assert figure(html, "status-sent") == "9"
    assert figure(html, "status-failed") == "6"
    assert figure(html, "status-queued") == "4"
    assert figure(html, "status-sending") == "1"
    assert figure(html, "failed-24h") == "4"  # final failures only, not the retries before them
    assert figure(html, "oldest-pending").startswith("3\xa0hours, 10\xa0minutes")
    today = timezone.localtime(rows["now"]).date()
    assert day_row(html, today) == (5, 4)
    assert day_row(html, today - timedelta(days=3)) == (4, 0)
    assert day_row(html, today - timedelta(days=10)) == (0, 2)
    assert html.count("<tr data-day=") == 30
    # The chart is drawn by the server: one bar per non-zero figure, no script, no CDN.
    chart = html.index('<figure class="hrm-chart">')
    svg = html[chart : html.index("</svg>", chart)]
    assert svg.count("<rect") == 4
    assert f"<title>{today:%Y-%m-%d}: 5 sent</title>" in svg
    assert f"<title>{today:%Y-%m-%d}: 4 failed</title>" in svg
    assert "cdn" not in html.lower()
    # Most frequent errors and recipients among the reports failed now.
    errors = html[
        html.index('id="top-errors"') : html.index("</table>", html.index('id="top-errors"'))
    ]
    assert re.search(r"<td>Permission refused</td><td>4</td>", errors)
    assert re.search(r"<td>HRM unreachable</td><td>2</td>", errors)
    assert errors.index("Permission refused") < errors.index("HRM unreachable")
    recipients = html[html.index('id="top-recipients"') :]
    names = {r.recipient_name: 0 for r in rows["failed"]}
    for report in rows["failed"]:
        names[report.recipient_name] += 1
    for name, count in names.items():
        assert re.search(rf"<td>{name}</td><td[^>]*>[^<]+</td><td>{count}</td>", recipients)
    assert "CPSO 12345" in recipients and "CNO 1234567" in recipients
    assert "<strong>Up</strong>" in html


def test_sent_beyond_a_count_is_an_estimate_and_says_so(rows, support, client_for, monkeypatch):
    # A million sent reports are not counted on each view: above the exact count's limit "Sent"
    # is the table's rows as the planner reckons them, less the other statuses (still exact).
    from django.db import connection

    from hrm.delivery.selectors import dashboard

    html = client_for(support).get(URL).content.decode()
    assert figure(html, "status-sent") == "9"
    assert "estimated from the table's size" not in html
    monkeypatch.setattr(dashboard, "SENT_EXACT_UP_TO", 5)
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{HrmReport._meta.db_table}"')
    html = client_for(support).get(URL).content.decode()
    assert figure(html, "status-sent") == "about 9"  # 20 rows less 11 not sent
    assert "estimated from the table's size: too many to count on each view" in html
    assert figure(html, "status-failed") == "6"
    assert figure(html, "status-queued") == "4"
    assert figure(html, "status-sending") == "1"


def test_an_errors_example_is_its_most_frequent_text_among_its_latest_failures(rows, monkeypatch):
    from hrm.delivery.selectors import dashboard

    retold = "HRM SFTP server denied user 'hrm' permission, told differently"
    HrmReport.objects.filter(pk=rows["failed"][0].pk).update(
        last_error=retold, last_attempt_at=rows["now"]
    )
    top = dashboard.hrm_dashboard().top_errors[0]
    assert (top.label, top.count, top.detail) == ("Permission refused", 4, PERMISSION)
    # Read from the class's latest failures only, so a million old ones cost nothing.
    monkeypatch.setattr(dashboard, "EXAMPLE_AMONG", 1)
    top = dashboard.hrm_dashboard().top_errors[0]
    assert (top.count, top.detail) == (4, retold)


def test_the_dashboard_shows_hrm_down(rows, support, client_for):
    HrmHealth.objects.update_or_create(
        pk=1,
        defaults={
            "state": HrmHealth.State.DOWN,
            "down_since": timezone.now(),
            "consecutive_failures": 7,
            "streak_recipients": ["D12345", "N1234567"],
            "last_error": "refused the connection",
        },
    )
    html = client_for(support).get(URL).content.decode()
    assert "<strong>Unreachable</strong>" in html
    assert "7 failures in a row across 2 recipients" in html
    assert "HRM is unreachable." in html  # the banner


def test_only_staff_who_may_see_hrm_reports_see_the_dashboard(live, watcher, client_for):
    assert client_for(watcher).get(URL).status_code == 200
    clinician = client_for(live.world.specialist).get(URL)
    assert clinician.status_code == 302 and "/admin/login/" in clinician["Location"]


def test_the_24_hour_failures_are_labelled_so_they_add_up_with_failed_now(
    rows, support, client_for
):
    now = rows["now"]
    # A report sent today after a failed delivery this morning (re-sent since), and one failed
    # now that failed twice today (failed, re-sent, failed again).
    attempt(rows["sent"][0], HrmAttempt.Outcome.FAILED, now - timedelta(hours=2), PERMISSION)
    attempt(rows["failed"][0], HrmAttempt.Outcome.FAILED, now - timedelta(hours=3), PERMISSION)

    html = client_for(support).get(URL).content.decode()

    assert figure(html, "status-failed") == "6"  # 4 failed today and 2 ten days ago
    assert figure(html, "failed-24h") == "6"  # 4 + the re-sent one + the second failure
    assert figure(html, "failed-24h-reports") == "5"
    assert figure(html, "failed-24h-failed-now") == "4"
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text)
    assert "Failed now waiting for a re-send, whenever they failed" in text
    assert "Deliveries that failed each one that gave up, also when re-sent since" in text
    assert "Reports they were for" in text and "Of those, failed now" in text
    assert "“Failed now” also holds reports that failed before the last 24 hours." in text
