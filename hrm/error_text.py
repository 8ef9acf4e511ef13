"""What a delivery error says to whom. Support (staff) read the error as the transport wrote it:
the SFTP host, port, account, key files and folder are what they act on. Clinicians read plain
words without any of those: server details are for the people who run the service, and a
clinician can act only by asking support, with the Transaction ID."""

from django.conf import settings

LAST_ERROR = "Last error: "
# Words that only the transport's own errors contain (hrm/transports.py); a report that failed
# validation ("the patient's health card number must be 10 digits") is shown as it is.
_SERVER_MARKERS = (
    "SFTP",
    "HRM folder",
    "host key",
    "known_hosts",
    "known hosts",
    "private key",
    "connection",
    "permission",
    "user '",
    "folder '",
)
CLINICIAN_TEXT = (
    "HRM's server did not take the file: a problem between this service and HRM, not with "
    "your message. Support has the details; give them the Transaction ID."
)


def _server_values() -> list[str]:
    values = [
        settings.HRM_SFTP_HOST,
        settings.HRM_SFTP_USER,
        settings.HRM_SFTP_KEY_FILE,
        settings.HRM_SFTP_KNOWN_HOSTS,
        str(settings.HRM_FOLDER_DIR),
    ]
    if settings.HRM_SFTP_DIR not in ("", "."):
        values.append(settings.HRM_SFTP_DIR)
    return [value for value in values if value and len(value) > 3]


def _names_the_server(text: str) -> bool:
    return any(marker in text for marker in _SERVER_MARKERS) or any(
        value in text for value in _server_values()
    )


def report_error_for_reader(error: str, *, staff: bool) -> str:
    if staff or not error or not _names_the_server(error):
        return error
    prefix = error.split(LAST_ERROR, 1)[0] + LAST_ERROR if LAST_ERROR in error else ""
    retrying = not prefix and error.rstrip(". ").endswith("will retry")
    retry = " It will be tried again." if retrying else ""
    return f"{prefix}{CLINICIAN_TEXT}{retry}"
