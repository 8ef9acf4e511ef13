"""What a delivery error means: its class (for support's figures, HRM's health and alerts) and
the words a clinician reads (true for the report's state, naming the likely cause and the next
step, with no server details: those stay in ``last_error`` for support).

The transports and the delivery service write errors for support, in full; the class is read
from those texts here, so the delivery code needs no change to be classified."""

import re
from datetime import timedelta

from directory.professional_id import professional_id_display
from hrm.models import ErrorClass

# Classes that say nothing about one report or recipient: when they follow each other across
# recipients, HRM itself (or our access to it) is down.
SERVICE_CLASSES = frozenset(
    {
        ErrorClass.UNREACHABLE,
        ErrorClass.AUTHENTICATION,
        ErrorClass.HOST_KEY,
        ErrorClass.FOLDER,
    }
)

_GAVE_UP = re.compile(r"^Gave up after \d+ attempts? over [\d.]+ hours?\. Last error: ", re.S)

# First match wins: the most specific wording first.
_PATTERNS: list[tuple[ErrorClass, re.Pattern]] = [
    (ErrorClass.INVALID, re.compile(r"^The report was not sent because")),
    (ErrorClass.SENDER, re.compile(r"^Not sent: ")),
    (ErrorClass.MISSING_FILE, re.compile(r"attached file is missing")),
    (ErrorClass.BUILD, re.compile(r"could not be built")),
    (ErrorClass.WORKER, re.compile(r"worker stopped")),
    # The second wording is the one stored before 2026-12 (kept for the reports written then).
    (
        ErrorClass.RECIPIENT,
        re.compile(r"so it refuses this file only|so it is this file it refuses"),
    ),
    (ErrorClass.HOST_KEY, re.compile(r"host key", re.I)),
    (ErrorClass.AUTHENTICATION, re.compile(r"refused the key|passphrase|private key", re.I)),
    (ErrorClass.CONFIGURATION, re.compile(r"known hosts file|not a plain file name", re.I)),
    (ErrorClass.PERMISSION, re.compile(r"permission", re.I)),
    (ErrorClass.FOLDER, re.compile(r"does not exist")),
    (
        ErrorClass.UNREACHABLE,
        re.compile(
            r"refused the connection|did not answer|did not start SSH|cannot be resolved|"
            r"connection failed|connection to .* dropped|while connecting|could not write|"
            r"could not (stage|promote|rename|write|upload)|was gone when",
            re.I | re.S,
        ),
    ),
]


def error_cause(error: str) -> str:
    """The underlying error of a "Gave up after …" text."""
    return _GAVE_UP.sub("", error or "")


def error_classify(error: str) -> str:
    """The class of a stored error text; empty for no error."""
    cause = error_cause(error)
    if not cause:
        return ""
    for error_class, pattern in _PATTERNS:
        if pattern.search(cause):
            return error_class.value
    return ErrorClass.UNEXPECTED.value


def error_gave_up(error: str) -> bool:
    return bool(_GAVE_UP.match(error or ""))


def duration_words(seconds: float) -> str:
    """``12 minutes``, ``3 hours``, ``2 days``: how long, as people say it."""
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} hours"
    return f"{round(seconds / 86400)} days"


_FAILED_TEXT = {
    ErrorClass.UNREACHABLE: (
        "HRM's server could not be reached, so the file did not reach the EMR. "
        "Re-send it once HRM is back; support has been told."
    ),
    ErrorClass.AUTHENTICATION: (
        "HRM did not accept this system's connection: a set-up problem on our side, not "
        "something you can fix. Support has been told; re-send once they say it is fixed."
    ),
    ErrorClass.HOST_KEY: (
        "This system could not confirm it was talking to HRM's real server, so it sent "
        "nothing: a set-up problem on our side. Support has been told; re-send once they say "
        "it is fixed."
    ),
    ErrorClass.FOLDER: (
        "HRM's upload folder for this system is missing or closed: a set-up problem between "
        "us and OntarioMD. Support has been told; re-send once they say it is fixed."
    ),
    ErrorClass.CONFIGURATION: (
        "This system's HRM settings are incomplete, so it sent nothing. Support has been "
        "told; re-send once they say it is fixed."
    ),
    # HRM refused it and took no other file to compare with: the recipient or our access.
    ErrorClass.PERMISSION: (
        "HRM refused the file. Either {recipient} is not registered with HRM under "
        "{recipient_id}, or HRM's access for this system needs fixing: support has been told "
        "and checks the second; check that Professional ID with {recipient}'s office, then "
        "re-send."
    ),
    ErrorClass.RECIPIENT: (
        "HRM refused the file for {recipient} while accepting others, so it is about this "
        "recipient: most often they are not registered with HRM under {recipient_id}. Check "
        "that Professional ID with their office, then re-send."
    ),
    ErrorClass.MISSING_FILE: (
        "The attached file is missing from this system's storage, so it cannot be sent. "
        "Attach the file again in a new message; support has been told."
    ),
    ErrorClass.BUILD: (
        "This system could not prepare the file (an internal error). Support has been told; "
        "re-send later."
    ),
    ErrorClass.WORKER: (
        "This system stopped while sending the file (an internal error). Support has been "
        "told; re-send it."
    ),
    ErrorClass.UNEXPECTED: (
        "An unexpected error stopped the delivery. Support has been told; re-send it, and "
        "give support the Transaction ID if it fails again."
    ),
}

_RETRYING_CAUSE = {
    ErrorClass.UNREACHABLE: "HRM's server did not answer",
    ErrorClass.PERMISSION: "HRM refused the file so far (a restarting server does this too)",
    ErrorClass.AUTHENTICATION: "HRM refused this system's connection so far",
    ErrorClass.FOLDER: "HRM's upload folder was not available",
    ErrorClass.WORKER: "the delivery was interrupted",
    ErrorClass.BUILD: "the file could not be prepared yet",
}


def clinician_error_text(report, *, hrm_down: bool = False) -> str:
    """What the clinician reads about one report: nothing when there is nothing wrong; for a
    report still on its way, that it is retrying by itself; for a failed one, the likely cause
    and what to do. Never a host, a path or a user name."""
    error = report.last_error
    status = report.status
    if status in ("sent", "cancelled"):  # cancelled: replaced or withdrawn before it left
        return ""
    if status in ("queued", "sending"):
        if hrm_down:
            return "HRM is unreachable at the moment; this file goes as soon as it is back."
        if not error:
            return ""
        cause = _RETRYING_CAUSE.get(error_classify(error), "the last attempt did not go through")
        return f"Not delivered yet: {cause}. Trying again automatically; nothing to do for now."
    error_class = error_classify(error)
    if error_class == ErrorClass.INVALID:
        return f"{error} Correct this on the referral or in the listing, then re-send."
    if error_class == ErrorClass.SENDER:
        return error  # written for the clinician: who may no longer send, and what to do
    recipient = report.recipient_name or "the recipient"
    # DeliverToUserID is the recipient's Professional ID as HRM knows it.
    recipient_id = professional_id_display(report.deliver_to_user_id) or "their Professional ID"
    text = _FAILED_TEXT.get(error_class, _FAILED_TEXT[ErrorClass.UNEXPECTED])
    text = text.format(recipient=recipient, recipient_id=recipient_id)
    if error_gave_up(error) and report.last_attempt_at and report.delivery_started_at:
        tried = duration_words(
            (report.last_attempt_at - report.delivery_started_at) / timedelta(seconds=1)
        )
        text = (
            f"Stopped trying after {report.attempts} attempt{'s' if report.attempts != 1 else ''} "
            f"over {tried}. {text}"
        )
    return text


# Support (staff) read the error as the transport wrote it: the SFTP host, port, account, key
# files and folder are what they act on. Clinicians read the plain words above, without any of
# those: server details are for the people who run the service.
def report_error_for_reader(report, *, staff: bool) -> str:
    if staff:
        return report.last_error
    # Set by referral_hrm_views, which also knows whether HRM is down.
    shown = getattr(report, "clinician_error", None)
    return shown if shown is not None else clinician_error_text(report)
