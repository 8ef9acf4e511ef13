"""Support in Chromium: bulk re-send from the admin list (a confirmation page with the count, a
reason, then a real worker sends them), the dashboard (saved as a screenshot for the docs), and
the clinician's delivery details at 390 px."""

import pytest
from playwright.sync_api import expect

from directory.models import User
from hrm.models import ErrorClass, HrmBulkResend, HrmReport
from referrals import services

from ..delivery_fixtures import wait_for
from ..factories import PASSWORD, pdf_upload
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = HrmReport.Status
GAVE_UP = (
    "Gave up after 5 attempts over 24.0 hours. Last error: HRM SFTP server 127.0.0.1:2222 "
    "refused the connection; will retry"
)


@pytest.fixture
def support(db):
    return User.objects.create_superuser("support", "support@example.org", PASSWORD)


def failed_message(live, text="Seen today."):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text=text, files=[pdf_upload()]
    )
    reports = message.hrm_reports.all()
    # As the delivery leaves them after giving up (the worker is not running yet).
    reports.update(
        status=Status.FAILED, last_error=GAVE_UP, error_class=ErrorClass.UNREACHABLE, attempts=5
    )
    return message


def test_support_resends_failed_reports_in_bulk_from_the_admin(
    live, support, hrm_sftp, broker, live_server, page, artifacts_dir, request
):
    hrm_sftp.stop()  # nothing goes out before support decides
    first, second = failed_message(live), failed_message(live, "Addendum.")
    HrmReport.objects.filter(message=second).exclude(
        pk=second.hrm_reports.order_by("id").first().pk
    ).update(status=Status.SENT, last_error="")
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server.url}/admin/hrm/hrmreport/")
    expect(page.get_by_role("heading", name="Select HRM report to view")).to_be_visible()
    page.locator("#action-toggle").check()
    page.get_by_role("combobox", name="Action").select_option("resend_failed")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".hrm-resend-count")).to_contain_text("5 failed reports will be requeued")
    expect(page.get_by_text("Left alone: 3 already sent, 0 still on their way.")).to_be_visible()
    page.get_by_label("Why are they re-sent?").fill("HRM's server was down all night")
    hrm_sftp.start()
    request.getfixturevalue("worker")  # a real worker from here on
    page.get_by_role("button", name="Re-send 5 reports").click()
    expect(page.locator(".messagelist")).to_contain_text("Re-sending 5 report(s) in 1 batch(es)")

    reports = HrmReport.objects.filter(message__in=[first, second])
    wait_for(lambda: set(reports.values_list("status", flat=True)) == {Status.SENT}, timeout=60)
    record = HrmBulkResend.objects.get()
    assert (record.actor, record.requeued, record.skipped_sent) == (support, 5, 3)
    assert all(r.resent_by == support for r in reports.filter(message=first))

    page.goto(f"{live_server.url}/admin/hrm/console/dashboard/")
    expect(page.get_by_role("heading", name="HRM delivery dashboard")).to_be_visible()
    expect(page.locator('[data-figure="status-sent"]')).to_have_text("8")
    expect(page.get_by_text("HRM's server was down all night")).to_be_visible()


def test_the_delivery_details_fit_a_390_px_screen(live, support, browser, live_server):
    message = failed_message(live)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server, "dr.lee", PASSWORD)
        page.goto(f"{live_server.url}/referrals/{live.referral.pk}/messages/{message.pk}/hrm/")
        table = page.get_by_role("table", name="HRM delivery of this message")
        expect(table).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        # A Transaction ID stays on one line, and its Copy button takes all of it.
        code = page.locator("code.transaction-id").first
        assert code.evaluate("e => e.getClientRects().length") == 1
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        page.get_by_role("button", name="Copy Transaction ID").first.click()
        expect(page.get_by_role("button", name="Copy Transaction ID").first).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == code.inner_text()
    finally:
        context.close()


def test_the_dashboard_draws_its_chart_and_shows_hrm_down(
    live, support, live_server, page, artifacts_dir
):
    """The screenshot in docs/support.md comes from here (test-artifacts/hrm-dashboard.png)."""
    from datetime import timedelta

    from django.utils import timezone

    from hrm.models import HrmAttempt, HrmHealth

    now = timezone.now()
    reports = []
    for n in range(12):
        message = services.message_post(
            referral=live.referral, author=live.world.specialist, text=f"Note {n}", files=[]
        )
        reports += list(message.hrm_reports.all())
    for n, report in enumerate(reports):
        day = now - timedelta(days=(n * 7) % 29)
        if n % 6 == 5:
            HrmReport.objects.filter(pk=report.pk).update(
                status=Status.FAILED,
                last_error=GAVE_UP,
                error_class=ErrorClass.UNREACHABLE,
                last_attempt_at=day,
            )
            HrmAttempt.objects.create(
                report=report,
                number=5,
                started_at=day,
                finished_at=day,
                duration_ms=20_000,
                worker="celery@hrm-1 pid 41",
                outcome="failed",
                error=GAVE_UP,
            )
        elif n % 6 != 4:
            HrmReport.objects.filter(pk=report.pk).update(status=Status.SENT, sent_at=day)
    HrmHealth.objects.update_or_create(
        pk=1,
        defaults={
            "state": HrmHealth.State.DOWN,
            "down_since": now - timedelta(minutes=12),
            "paused_until": now + timedelta(minutes=2),
            "consecutive_failures": 9,
            "streak_recipients": ["D12345", "N1234567"],
            "last_error": "HRM SFTP server hrm.example:22 refused the connection; will retry",
        },
    )
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server.url}/admin/hrm/console/dashboard/")
    expect(page.get_by_role("complementary", name="HRM status")).to_contain_text(
        "HRM is unreachable."
    )
    expect(page.locator(".hrm-health-down")).to_contain_text("9 failures in a row")
    chart = page.get_by_role("img", name="Reports sent (blue) and deliveries failed (red) per day")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() > 0
    expect(page.locator("#top-errors")).to_contain_text("HRM unreachable")
    page.screenshot(path=str(artifacts_dir / "hrm-dashboard.png"), full_page=True)


def test_the_sender_approval_list_fits_1280_px(world, support, live_server, page, artifacts_dir):
    from django.utils import timezone

    from hrm.models import SenderApproval

    for n, user in enumerate([world.referrer, world.specialist, world.intake]):
        user.hrm_upi = f"UPI-{n}4471-LONG-IDENTIFIER"
        user.save()
        SenderApproval.objects.create(
            user=user,
            site=user.sites.first(),
            upi=user.hrm_upi,
            status=SenderApproval.Status.APPROVED,
            decided_at=timezone.now(),
            decided_by=support,
        )
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server.url}/admin/hrm/senderapproval/")
    table = page.locator("#result_list")
    expect(table).to_contain_text("CPSO 12345")
    width = page.evaluate("document.documentElement.scrollWidth")
    box = table.bounding_box()
    assert width <= 1280 and box["x"] + box["width"] <= 1280, (width, box)
    # Every column is there to read, the last one included.
    page.screenshot(path=str(artifacts_dir / "sender-approvals-1280.png"))
    expect(page.locator("#result_list th.column-decided")).to_be_in_viewport()
