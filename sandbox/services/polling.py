"""The stand-in EMR polls HRM's folder as an EMR does: over SFTP with its own key and the
server's pinned host key, every final file downloaded, filed (``filing``) and then deleted."""

from __future__ import annotations

import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko

from hrm.delivery.transports import PART_SUFFIX
from hrm.reports.crypto import key_from_hex
from sandbox.emrs import emr_profile
from sandbox.models import EmrRetrievalLog
from sandbox.reading import required_children, schema
from sandbox.services.filing import sandbox_file_download

Outcome = EmrRetrievalLog.Outcome


class SftpLoginLike(Protocol):
    """Where the EMR's HRM folder is (``sandbox.sftp_server.SftpLogin`` fits)."""

    host: str
    port: int
    user: str
    key_file: Path
    known_hosts_file: Path
    remote_dir: str


@dataclass(frozen=True)
class PollResult:
    """What one poll did: one retrieval log row per file downloaded, in the order handled."""

    retrievals: tuple[EmrRetrievalLog, ...] = ()
    still_uploading: int = 0  # ``.part`` files left alone

    def _count(self, outcome: str) -> int:
        return sum(1 for retrieval in self.retrievals if retrieval.outcome == outcome)

    @property
    def filed(self) -> int:
        return self._count(Outcome.FILED)

    @property
    def duplicate(self) -> int:
        return self._count(Outcome.DUPLICATE)

    @property
    def routed(self) -> int:
        return self._count(Outcome.ROUTED)

    @property
    def refused(self) -> int:
        return self._count(Outcome.REFUSED)


def _connect(login: SftpLoginLike, timeout: float) -> paramiko.SSHClient:
    """Sign in as the EMR does: its private key only, and the server's host key pinned in the
    login's known_hosts file (OSCAR turns host-key checking off; we need not copy that)."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(login.known_hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            login.host,
            int(login.port),
            username=login.user,
            pkey=paramiko.PKey.from_path(login.key_file),
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
        )
    except Exception:
        client.close()
        raise
    return client


def _download(sftp: paramiko.SFTPClient, path: str) -> bytes:
    with sftp.open(path, "rb") as remote:
        remote.prefetch()
        return remote.read()


def sandbox_poll(
    login: SftpLoginLike, aes_key: str, *, profile: str | None = None, timeout: float = 15.0
) -> PollResult:
    """One poll of the HRM folder: every final file (oldest first) is downloaded, decrypted,
    filed or refused by ``filing.sandbox_file_download`` under ``profile`` (default: the
    ``HRM_SANDBOX_EMR_PROFILE`` setting), then deleted from the server. A name ending ``.part``
    is still being uploaded and is left alone.

    A file is deleted only once it has been consumed (OntarioMD's rule, HRM-FORMAT.md 12.1):
    if this process dies in between, the next poll downloads it again and counts it as a
    duplicate instead of losing it. A wrong key or a missing schema is the EMR's own set-up
    problem, so it raises before any file is touched; SFTP errors raise too (the next poll
    tries again)."""
    key_from_hex(aes_key)
    profile = emr_profile(profile)
    schema()
    required_children()
    client = _connect(login, timeout)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(timeout)
        folder = login.remote_dir
        entries = sorted(
            sftp.listdir_attr(folder), key=lambda entry: (entry.st_mtime or 0, entry.filename)
        )
        retrievals, still_uploading = [], 0
        for entry in entries:
            if entry.st_mode is not None and stat.S_ISDIR(entry.st_mode):
                continue
            if entry.filename.endswith(PART_SUFFIX):
                still_uploading += 1
                continue
            path = posixpath.join(folder, entry.filename)
            try:
                data = _download(sftp, path)
            except FileNotFoundError:
                continue  # another poller took it between the listing and now
            retrievals.append(sandbox_file_download(data, entry.filename, aes_key, profile=profile))
            sftp.remove(path)
        return PollResult(tuple(retrievals), still_uploading)
    finally:
        client.close()
