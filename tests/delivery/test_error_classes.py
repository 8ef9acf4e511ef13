"""An error's class is decided where it is raised and stored on the report and its attempt:
nothing that decides what happens next (HRM's health, the alerts, support's figures, bulk
re-send, the clinician's words) reads the error's wording. And whatever goes wrong between the
claim and the upload returns the batch at once, with its cause."""

import pytest

from hrm.delivery.connections import transport_get
from hrm.delivery.console import _selection
from hrm.delivery.errors import clinician_error_text
from hrm.delivery.selectors.dashboard import hrm_dashboard
from hrm.delivery.services.health import hrm_is_down
from hrm.delivery.services.outbox import reports_deliver
from hrm.delivery.services.recording import Outcome
from hrm.delivery.transports import TransportError
from hrm.models import ErrorClass, HrmAttempt, HrmReport
from referrals import services

from ..factories import pdf_upload

Status = HrmReport.Status


@pytest.fixture
def reports(live, hrm_sftp):
    """A typed note and a PDF to two live stakeholders: four reports, two recipients."""
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    return list(message.hrm_reports.order_by("id"))


class _Unanswered:
    """HRM's server not answering, its error worded as nobody ever wrote one."""

    accepted = 0

    def __init__(self, words: str):
        self.words = words

    def _fail(self, *args, **kwargs):
        raise TransportError(self.words, False, error_class=ErrorClass.UNREACHABLE)

    probe = stage = promote = staging = stage_all = promote_all = discard = upload = _fail

    def close(self):
        pass


@pytest.mark.parametrize(
    "words",
    [
        "HRM SFTP server 127.0.0.1:22 refused the connection; will retry",
        "Zut alors, le serveur fait la sieste",
    ],
)
def test_an_errors_words_change_no_behaviour(reports, settings, words):
    settings.HRM_DELIVERY_MAX_AGE_SECONDS = 0  # each attempt is the last: failed for good
    settings.HRM_HEALTH_DOWN_AFTER_FAILURES = 4
    settings.HRM_HEALTH_DOWN_MIN_RECIPIENTS = 2
    results = reports_deliver([r.pk for r in reports], _Unanswered(words))
    assert {result.outcome for result in results.values()} == {Outcome.FAILED}
    assert hrm_is_down()  # four failures about HRM across two recipients
    for report in HrmReport.objects.filter(pk__in=[r.pk for r in reports]):
        assert report.status == Status.FAILED and words in report.last_error
        assert report.error_class == ErrorClass.UNREACHABLE
        assert "HRM's server could not be reached" in clinician_error_text(report)
    assert set(HrmAttempt.objects.values_list("error_class", flat=True)) == {"unreachable"}
    [top] = hrm_dashboard().top_errors
    assert (top.label, top.count) == ("HRM unreachable", 4)
    selected, _ = _selection({"error_class": "unreachable"})
    assert selected.count() == 4


def test_a_bad_key_returns_the_batch_at_once_with_its_cause(reports, settings, hrm_sftp):
    settings.HRM_AES_KEY = "not a key"
    results = reports_deliver([r.pk for r in reports], transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.RETRY}
    for report in HrmReport.objects.filter(pk__in=[r.pk for r in reports]):
        # Back in the queue now, not "sending" until the re-drive calls it a stopped worker.
        assert report.status == Status.QUEUED and report.sending_since is None
        assert report.error_class == ErrorClass.CONFIGURATION
        assert "could not be encrypted" in report.last_error
        assert "32 hex digits" in report.last_error
    attempts = HrmAttempt.objects.values_list("outcome", "error_class")
    assert list(attempts) == [("retry", "configuration")] * 4
    assert not any(hrm_sftp.inbox.iterdir())  # nothing uploaded
