"""The transport a worker process uses, built from settings and kept open across uploads."""

import logging
import os
import threading

from celery.signals import worker_init, worker_process_shutdown
from django.conf import settings

from hrm.delivery.transports import Transport
from hrm.delivery.transports.folder import FolderTransport
from hrm.delivery.transports.sftp import SftpTimeouts, SftpTransport
from hrm.reports.crypto import KeyInvalid, key_from_hex

logger = logging.getLogger(__name__)

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
            open_files_at_once=settings.HRM_DELIVERY_OPEN_FILES,
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


def hrm_settings_problems() -> list[str]:
    """What in the HRM key and connection settings would fail every delivery, in words an
    operator acts on; empty when a worker may start."""
    problems = []
    if not settings.HRM_AES_KEY:
        problems.append("HRM_AES_KEY is not set: no report can be encrypted.")
    else:
        try:
            key_from_hex(settings.HRM_AES_KEY)
        except KeyInvalid as error:
            problems.append(f"HRM_AES_KEY: {error}")
    if settings.HRM_TRANSPORT == "folder":
        if not str(settings.HRM_FOLDER_DIR).strip():
            problems.append("HRM_FOLDER_DIR is not set.")
    elif settings.HRM_TRANSPORT == "sftp":
        for name in ("HRM_SFTP_HOST", "HRM_SFTP_USER"):
            if not str(getattr(settings, name)).strip():
                problems.append(f"{name} is not set.")
        if not 0 < settings.HRM_SFTP_PORT < 65536:
            problems.append(f"HRM_SFTP_PORT must be 1 to 65535, not {settings.HRM_SFTP_PORT}.")
        for name in ("HRM_SFTP_KEY_FILE", "HRM_SFTP_KNOWN_HOSTS"):
            path = getattr(settings, name)
            if not path:
                problems.append(f"{name} is not set.")
            elif not os.path.isfile(path) or not os.access(path, os.R_OK):
                problems.append(f"{name} {path} is not a file this worker can read.")
    else:
        problems.append(
            f"HRM_TRANSPORT must be 'folder' or 'sftp', not {settings.HRM_TRANSPORT!r}."
        )
    return problems


@worker_init.connect
def _refuse_to_start_misconfigured(**kwargs):
    """A worker with a missing or malformed HRM key or connection setting would fail (or hold
    back) every delivery it takes: it stops before taking any, saying what to fix."""
    problems = hrm_settings_problems()
    if problems:
        message = "This worker will not start: " + " ".join(problems)
        logger.critical(message)
        raise SystemExit(message)
