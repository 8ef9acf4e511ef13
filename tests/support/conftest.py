"""Support console tests: a message with reports to two live stakeholders, staff personas, and a
way to end an attempt the way the delivery records it (the row first, then the hooks)."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from hrm.delivery.services.recording import outcome_told
from hrm.models import ErrorClass, HrmReport
from referrals import services

from ..factories import make_user, pdf_upload

Status = HrmReport.Status

UNREACHABLE = "HRM SFTP server 127.0.0.1:2222 refused the connection; will retry"
GAVE_UP = f"Gave up after 3 attempts over 0.0 hours. Last error: {UNREACHABLE}"
PERMISSION = (
    "HRM SFTP server 127.0.0.1:2222 denied user 'hrm' permission to write files in folder "
    "'/inbox' (x.xml.enc); ask OntarioMD to check the account's folder permissions"
)
# Each error's class, as its raise site decides it.
CLASSES = {
    UNREACHABLE: ErrorClass.UNREACHABLE,
    GAVE_UP: ErrorClass.UNREACHABLE,
    PERMISSION: ErrorClass.PERMISSION,
}


@pytest.fixture
def support(db, settings):
    settings.HRM_SUPPORT_EMAILS = ["support@ereferral.example"]
    return make_user(username="support.sam", is_staff=True, is_superuser=True, first_name="Sam")


@pytest.fixture
def watcher(db):
    """Staff who may look at HRM reports but not re-drive them."""
    user = make_user(username="watcher", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_hrmreport"))
    return user


def post_message(live, text="Seen today.", files=None):
    return services.message_post(
        referral=live.referral, author=live.world.specialist, text=text, files=files or []
    )


@pytest.fixture
def message(live):
    """Typed text plus a PDF to the two live stakeholders: four reports."""
    return post_message(live, files=[pdf_upload()])


def end_attempt(report: HrmReport, outcome: str, error: str = "") -> HrmReport:
    """Record one attempt's outcome on the row as the worker does, then tell the others."""
    now = timezone.now()
    report.refresh_from_db()
    report.attempts += 1
    report.last_attempt_at = now
    if outcome == "sent":
        report.status, report.sent_at, report.last_error = Status.SENT, now, ""
    elif outcome == "retry":
        report.status, report.last_error = Status.QUEUED, error
    else:
        report.status, report.last_error = Status.FAILED, error
    report.error_class = CLASSES[error] if error else ""
    report.save()
    outcome_told(report, outcome, error=error, error_class=report.error_class)
    return report
