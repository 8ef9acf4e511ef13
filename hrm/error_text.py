"""What a delivery error says to whom. Support (staff) read the error as the transport wrote it:
the SFTP host, port, account, key files and folder are what they act on. Clinicians read plain
words without any of those, true for the report's state, with the likely cause and the next
step (``hrm/delivery_errors.py``): server details are for the people who run the service."""

from hrm.delivery_errors import clinician_error_text


def report_error_for_reader(report, *, staff: bool) -> str:
    if staff:
        return report.last_error
    # Set by referral_hrm_views, which also knows whether HRM is down.
    shown = getattr(report, "clinician_error", None)
    return shown if shown is not None else clinician_error_text(report)
