"""The transport a worker process uses, built from settings and kept open across uploads."""

import threading

from celery.signals import worker_process_shutdown
from django.conf import settings

from hrm.delivery.transports import Transport
from hrm.delivery.transports.folder import FolderTransport
from hrm.delivery.transports.sftp import SftpTimeouts, SftpTransport

_lock = threading.Lock()
_cached: tuple[tuple, Transport] | None = None


def _settings_key() -> tuple:
    return (
        settings.HRM_TRANSPORT,
        str(settings.HRM_FOLDER_DIR),
        settings.HRM_SFTP_HOST,
        settings.HRM_SFTP_PORT,
        settings.HRM_SFTP_USER,
        settings.HRM_SFTP_KEY_FILE,
        settings.HRM_SFTP_KNOWN_HOSTS,
        settings.HRM_SFTP_DIR,
        settings.HRM_SFTP_TIMEOUT_SECONDS,
    )


def _build() -> Transport:
    if settings.HRM_TRANSPORT == "folder":
        return FolderTransport(settings.HRM_FOLDER_DIR)
    if settings.HRM_TRANSPORT == "sftp":
        timeout = settings.HRM_SFTP_TIMEOUT_SECONDS
        return SftpTransport(
            host=settings.HRM_SFTP_HOST,
            port=settings.HRM_SFTP_PORT,
            user=settings.HRM_SFTP_USER,
            key_file=settings.HRM_SFTP_KEY_FILE,
            known_hosts_file=settings.HRM_SFTP_KNOWN_HOSTS,
            remote_dir=settings.HRM_SFTP_DIR,
            timeouts=SftpTimeouts(connect=timeout, banner=timeout, auth=timeout, channel=timeout),
        )
    raise ValueError(f"HRM_TRANSPORT must be 'folder' or 'sftp', not {settings.HRM_TRANSPORT!r}.")


def transport_get() -> Transport:
    """This process's transport: one SFTP connection reused for every upload, rebuilt only when
    the settings change."""
    global _cached
    key = _settings_key()
    with _lock:
        if _cached is None or _cached[0] != key:
            if _cached is not None:
                _cached[1].close()
            _cached = (key, _build())
        return _cached[1]


def transport_close() -> None:
    global _cached
    with _lock:
        if _cached is not None:
            _cached[1].close()
            _cached = None


@worker_process_shutdown.connect
def _close_on_shutdown(**kwargs):
    transport_close()
