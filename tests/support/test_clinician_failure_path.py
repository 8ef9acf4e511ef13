"""The clinician's failure path: "failed" only once a part has failed and nothing else is still
being sent; "Re-send all failed" whenever a part has failed; words that are true, name the cause
and the next step, and keep server details for support; the attempts in short."""

import importlib

import pytest

from hrm.delivery.errors import clinician_error_text
from hrm.delivery.selectors.messages import HrmIcon, message_hrm_icon
from hrm.models import ErrorClass, HrmReport

from .conftest import CLASSES, GAVE_UP, PERMISSION, UNREACHABLE, end_attempt

Status = HrmReport.Status
SERVER_DETAILS = ("127.0.0.1", "2222", "'hrm'", "/inbox", "will retry", "SFTP")


# The wording rules live on only in the data migration that classified the reports stored
# before each error carried its class.
migration_classify = importlib.import_module("hrm.migrations.0012_report_error_class")._classify


def report_like(status, error="", **fields):
    fields.setdefault("error_class", CLASSES.get(error, ""))
    return HrmReport(
        status=status,
        last_error=error,
        recipient_name="Alice Nguyen",
        deliver_to_user_id="D12345",
        **fields,
    )


def test_a_failed_part_shows_pending_while_another_part_is_still_being_sent():
    failed, queued, sent = Status.FAILED, Status.QUEUED, Status.SENT
    icon = lambda *statuses: message_hrm_icon([report_like(s) for s in statuses])  # noqa: E731
    assert icon(failed, queued) == HrmIcon.PENDING
    assert icon(failed, Status.SENDING) == HrmIcon.PENDING
    assert icon(failed, sent) == HrmIcon.FAILED
    assert icon(failed) == HrmIcon.FAILED
    assert icon(sent, sent) == HrmIcon.SENT
    assert icon() == HrmIcon.NONE


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        (UNREACHABLE, ErrorClass.UNREACHABLE),
        (GAVE_UP, ErrorClass.UNREACHABLE),
        (PERMISSION, ErrorClass.PERMISSION),
        (
            f"{PERMISSION}. HRM accepted other files over the same connection, so it is this "
            "file it refuses; not retrying.",
            ErrorClass.RECIPIENT,
        ),
        (
            "HRM SFTP server h:22 denied user 'hrm' permission to rename files in folder "
            "'/inbox' (x.xml.enc). HRM takes other files, so it refuses this file only, not the "
            "folder: most often HRM does not know its recipient CPSO 12345; not retrying.",
            ErrorClass.RECIPIENT,
        ),
        (
            "HRM SFTP server h:22 refused the key /k for user 'hrm'; check the user name and "
            "that OntarioMD registered this key's public half",
            ErrorClass.AUTHENTICATION,
        ),
        (
            "HRM SFTP server h:22 presented a DIFFERENT host key (x) from the one pinned",
            ErrorClass.HOST_KEY,
        ),
        ("folder '/inbox' does not exist on HRM SFTP server h:22; check", ErrorClass.FOLDER),
        (
            "The report was not sent because the patient's health card number must be 10 digits.",
            ErrorClass.INVALID,
        ),
        ("The attached file is missing from storage; it cannot be sent.", ErrorClass.MISSING_FILE),
        ("The worker stopped during the upload; trying again.", ErrorClass.WORKER),
        ("Unexpected error during the upload (KeyError); will retry.", ErrorClass.UNEXPECTED),
    ],
)
def test_every_error_is_classified_and_reads_true_without_server_details(error, error_class):
    assert migration_classify(error) == error_class
    failed = clinician_error_text(
        report_like(Status.FAILED, error, attempts=3, error_class=error_class)
    )
    retrying = clinician_error_text(
        report_like(Status.QUEUED, error, attempts=1, error_class=error_class)
    )
    for text in (failed, retrying):
        for detail in SERVER_DETAILS:
            assert detail not in text, (detail, text)
    assert "retry" not in failed.lower() and "trying again" not in failed.lower()
    assert "re-send" in failed.lower() or "attach the file again" in failed.lower()
    assert "Trying again automatically" in retrying


def test_a_refusal_names_the_recipient_and_the_professional_id_to_check():
    text = clinician_error_text(
        report_like(Status.FAILED, PERMISSION, error_class=ErrorClass.PERMISSION)
    )
    assert "not registered with HRM under" in text and "check that Professional ID" in text
    assert "ask OntarioMD to check the account's folder permissions" not in text


def test_one_failed_part_offers_resend_all_failed_and_the_details_show_the_attempts(
    message, client_for, live, settings
):
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000
    settings.HRM_DELIVERY_MAX_ATTEMPTS = 2  # the second attempt is the last
    failed, *others = list(message.hrm_reports.order_by("id"))
    end_attempt(failed, "retry", UNREACHABLE)
    end_attempt(failed, "failed", GAVE_UP)
    client = client_for(live.world.specialist)
    page = client.get(live.referral.get_absolute_url()).content.decode()
    # Another part is still queued: not "failed" yet, and nothing to re-send-all yet... but the
    # failed one can already be re-sent on its own.
    assert 'data-hrm-icon="pending"' in page
    for report in others:
        end_attempt(report, "sent")
    page = client.get(live.referral.get_absolute_url()).content.decode()
    assert 'data-hrm-icon="failed"' in page
    assert "Re-send all failed (1 report)" in page
    details = client.get(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/"
    ).content.decode()
    assert "Stopped trying after 2 attempts" in details
    assert "HRM&#x27;s server could not be reached" in details
    for detail in ("127.0.0.1", "will retry"):
        assert detail not in details
    attempts = details[details.index('aria-label="Attempts"') :]
    assert attempts.index("Will retry (HRM unreachable)") < attempts.index(
        "Failed, not retrying (HRM unreachable)"
    )
    assert f'data-copy="{failed.transaction_id}"' in details
    response = client.post(f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/")
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED


def test_an_attempt_lost_with_its_worker_is_on_record(message):
    from django.utils import timezone

    from hrm.delivery.services.attempts import attempts_worker_lost
    from hrm.models import HrmAttempt

    report = message.hrm_reports.first()
    HrmReport.objects.filter(pk=report.pk).update(
        status=Status.SENDING, attempts=2, sending_since=timezone.now()
    )
    attempts_worker_lost([report.pk, message.hrm_reports.last().pk])  # the second is not stuck
    [attempt] = HrmAttempt.objects.all()
    assert (attempt.report_id, attempt.number, attempt.outcome) == (report.pk, 2, "retry")
    assert attempt.error_class == ErrorClass.WORKER and "re-drive" in attempt.worker


def test_a_resend_shows_resending_then_its_outcome_logs_who_resent_what_and_counts_every_attempt(
    message, client_for, live, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    from referrals.models import ReferralEvent

    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 1000
    failed, *others = list(message.hrm_reports.order_by("id"))
    with django_capture_on_commit_callbacks(execute=True):
        for report in others:
            end_attempt(report, "sent")
        end_attempt(failed, "retry", UNREACHABLE)
        end_attempt(failed, "failed", GAVE_UP)
    alerted = [email.to for email in mail.outbox]
    assert alerted  # the failure is alerted, once
    client = client_for(live.world.specialist)
    url = live.referral.get_absolute_url()

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/resend/", follow=True
            )
        page = response.content.decode()
        assert "Re-sending 1 HRM report. The icon beside the message shows the outcome." in page
        # Until the outcome, the icon says the re-send is on its way, not the old failure.
        assert 'data-hrm-icon="pending"' in page and "Re-sending to EMR via HRM" in page
        with django_capture_on_commit_callbacks(execute=True):
            end_attempt(failed, "failed", PERMISSION)
        page = client.get(url).content.decode()
        assert 'data-hrm-icon="failed"' in page and "HRM re-send failed" in page

    # Who re-sent what, once per re-send, in the referral's event log.
    events = live.referral.events.filter(kind=ReferralEvent.Kind.DELIVERY_RESENT)
    assert events.count() == 3
    event = events.first()
    assert event.actor == live.world.specialist
    assert event.description.startswith("Re-sent 1 HRM report of the message of ")
    assert f"{failed.part_label} to {failed.recipient_name}" in event.description
    assert "Re-sent 1 HRM report of the message" in page
    # Every attempt counts: 2 before the re-sends, 1 in each.
    details = client.get(
        f"/referrals/{live.referral.pk}/messages/{message.pk}/hrm/"
    ).content.decode()
    row = details[details.index(f'data-copy="{failed.transaction_id}"') - 2000 :]
    assert '<td data-label="Attempts">5</td>' in row
    # One failure episode, one alert to each address: not one per re-send.
    assert [email.to for email in mail.outbox] == alerted


def test_a_refusal_with_no_other_file_to_compare_names_both_possible_causes():
    # Nothing says whether HRM refuses this recipient or this system's access: saying "most
    # often the recipient" to the clinician while support reads "the folder's permissions"
    # would be two stories for one refusal.
    text = clinician_error_text(report_like(Status.FAILED, PERMISSION))
    assert "Either Alice Nguyen is not registered with HRM under CPSO 12345" in text
    assert "or HRM's access for this system needs fixing" in text
