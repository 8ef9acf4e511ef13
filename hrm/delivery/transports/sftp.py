"""HRM's SFTP server: paramiko, a pinned host key, our private key, bounded timeouts, and every
error classified for the caller (transient, refusal or permanent) in words support can act on."""

from __future__ import annotations

import contextlib
import errno
import logging
import posixpath
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko

from hrm.delivery.transports import (
    PART_SUFFIX,
    Probe,
    TransportError,
    UploadResult,
    _check_remote_name,
    files_stage,
    upload_in_one_go,
)
from hrm.delivery.transports.sftp_pipeline import FileWrites, files_rename, files_write
from hrm.error_classes import ErrorClass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SftpTimeouts:
    """Seconds to wait before giving up (each one ends the attempt as a transient error)."""

    connect: float = 15.0  # TCP connection
    banner: float = 15.0  # the server's SSH banner
    auth: float = 15.0  # the answer to our key
    channel: float = 30.0  # opening the SFTP channel, then each SFTP request


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        super().__init__(f"{hostname} not in known_hosts")
        self.key = key


class _RejectUnknownHostKey(paramiko.MissingHostKeyPolicy):
    """Like paramiko's RejectPolicy, but tells us apart from other SSH errors."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey):
        raise _UnknownHostKey(hostname, key)


class _ConnectionLost(Exception):
    def __init__(self, error: TransportError):
        super().__init__(error.message)
        self.error = error


class SftpTransport:
    """Uploads over one SFTP connection, opened on first use and reused; not thread-safe.

    Authentication is by the private key in ``key_file`` only (no agent, no other keys). The
    server's host key must be pinned in ``known_hosts_file`` (OpenSSH format; for a port other
    than 22 the host is written ``[host]:port``): an unknown or changed key is a permanent error,
    never accepted. ``staging`` writes a batch's ``.part`` files as each is given (every request
    in flight at once, every acknowledgement checked), and ``stage_all`` all of them at once;
    ``promote_all`` renames them with
    ``posix-rename@openssh.com``, ``stage`` and ``promote`` do so for one file, ``probe`` stats
    the final name and then the ``.part``. A step that finds the kept connection gone reconnects
    once and runs again, except a rename, whose outcome is then for ``probe`` to find out.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        key_file: str | Path,
        known_hosts_file: str | Path,
        remote_dir: str,
        timeouts: SftpTimeouts | None = None,
        open_files_at_once: int = 64,
    ):
        self.host = host
        self.port = int(port)
        self.user = user
        self.key_file = Path(key_file)
        self.known_hosts_file = Path(known_hosts_file)
        self.remote_dir = remote_dir
        self.timeouts = timeouts or SftpTimeouts()
        self.open_files_at_once = open_files_at_once  # on HRM's server, for one batch
        self._key: paramiko.PKey | None = None
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.accepted = 0  # files renamed over the current connection

    @property
    def where(self) -> str:
        return f"HRM SFTP server {self.host}:{self.port}"

    # Connection ----------------------------------------------------------------------------

    def _private_key(self) -> paramiko.PKey:
        if self._key is None:
            try:
                self._key = paramiko.PKey.from_path(self.key_file)
            except paramiko.PasswordRequiredException:
                raise TransportError(
                    f"the HRM SFTP private key file {self.key_file} is protected by a passphrase; "
                    "the delivery worker needs an unencrypted key; not retrying",
                    True,
                    error_class=ErrorClass.AUTHENTICATION,
                ) from None
            except OSError as exc:
                raise TransportError(
                    f"cannot read the HRM SFTP private key file {self.key_file} "
                    f"({exc.strerror or exc}); not retrying",
                    True,
                    error_class=ErrorClass.AUTHENTICATION,
                ) from exc
            except Exception as exc:  # paramiko raises several types for an unreadable key
                raise TransportError(
                    f"the HRM SFTP private key file {self.key_file} is not a private key "
                    f"that can be used ({exc}); not retrying",
                    True,
                    error_class=ErrorClass.AUTHENTICATION,
                ) from exc
        return self._key

    def _connect(self) -> None:
        key = self._private_key()
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(str(self.known_hosts_file))  # never the system's files
        except (OSError, paramiko.SSHException) as exc:
            raise TransportError(
                f"cannot read the pinned host keys file {self.known_hosts_file} ({exc}); "
                "not retrying",
                True,
                error_class=ErrorClass.CONFIGURATION,
            ) from exc
        client.set_missing_host_key_policy(_RejectUnknownHostKey())
        limits = self.timeouts
        try:
            client.connect(
                self.host,
                self.port,
                username=self.user,
                pkey=key,
                allow_agent=False,
                look_for_keys=False,
                timeout=limits.connect,
                banner_timeout=limits.banner,
                auth_timeout=limits.auth,
                channel_timeout=limits.channel,
            )
            # paramiko leaves Nagle's algorithm on: each request sent right behind another
            # (a batch's opens, renames, a file's last write and its close) would wait for
            # the previous one's acknowledgement, a round trip on a real link.
            client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(limits.channel)
        except Exception as exc:
            client.close()
            raise self._connect_error(exc) from exc
        self._client, self._sftp = client, sftp

    def _connect_error(self, exc: Exception) -> TransportError:
        where, known_hosts = self.where, self.known_hosts_file
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, _UnknownHostKey):
            return TransportError(
                f"{where} presented a host key ({exc.key.get_name()} {exc.key.fingerprint}) that "
                f"is not pinned in {known_hosts}; confirm that fingerprint with OntarioMD, then "
                "add the key to that file; not retrying",
                True,
                error_class=ErrorClass.HOST_KEY,
            )
        if isinstance(exc, paramiko.BadHostKeyException):
            return TransportError(
                f"{where} presented a DIFFERENT host key ({exc.key.fingerprint}) from the one "
                f"pinned in {known_hosts} ({exc.expected_key.fingerprint}): the server was "
                "replaced, or someone is intercepting the connection. Confirm with OntarioMD "
                "before changing the pinned key; not retrying",
                True,
                error_class=ErrorClass.HOST_KEY,
            )
        if isinstance(exc, paramiko.AuthenticationException) and "timeout" not in str(exc):
            # A restarting server refuses keys for a moment too: the caller decides how long a
            # refusal may last before it is a failure.
            return TransportError(
                f"{where} refused the key {self.key_file} for user '{self.user}'; check the user "
                "name and that OntarioMD registered this key's public half",
                False,
                error_class=ErrorClass.AUTHENTICATION,
                refusal=True,
            )
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError | ConnectionRefusedError):
            return TransportError(
                f"{where} refused the connection; will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
            )
        if isinstance(exc, TimeoutError | paramiko.AuthenticationException):
            return TransportError(
                f"{where} did not answer in time while connecting; will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
            )
        if isinstance(exc, paramiko.SSHException) and "banner" in str(exc):
            return TransportError(
                f"{where} accepted the connection but did not start SSH ({exc}); will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
            )
        if isinstance(exc, socket.gaierror):
            return TransportError(
                f"{where}: the host name cannot be resolved ({exc}); will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
            )
        if isinstance(exc, EOFError | OSError | paramiko.SSHException):
            return TransportError(
                f"{where}: the connection failed ({exc}); will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
            )
        return TransportError(
            f"{where}: unexpected error while connecting ({exc!r}); will retry",
            False,
            error_class=ErrorClass.UNREACHABLE,
        )

    def _alive(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return bool(transport and transport.is_active())

    def _disconnect(self) -> None:
        client, self._client, self._sftp = self._client, None, None
        self.accepted = 0
        if client is not None:
            client.close()

    def close(self) -> None:
        self._disconnect()

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Steps -----------------------------------------------------------------------------------

    def _remote_path(self, name: str) -> str:
        _check_remote_name(name)
        return posixpath.join(self.remote_dir, name) if self.remote_dir else name

    def _connection_ready(self) -> bool:
        """Connect unless the kept connection is alive; whether it is one kept from an earlier
        upload (it carried a rename), which the server may have closed meanwhile."""
        alive = self._sftp is not None and self._alive()
        if not alive:
            self._disconnect()
            self._connect()
        return alive and self.accepted > 0

    def _call(self, stage: str, name: str, action, *, repeatable: bool = True):
        """Run ``action(sftp)`` over the kept connection (opened if needed). When a kept
        connection turns out to be gone (servers close idle sessions), reconnect once and run it
        again, if running it twice is harmless (``repeatable``)."""
        reused = self._connection_ready()
        try:
            return self._guarded(stage, name, action)
        except _ConnectionLost as lost:
            self._disconnect()
            if not reused or not repeatable:
                raise lost.error from lost.__cause__
            logger.info("%s: kept connection was gone; reconnecting once", self.where)
        return self._again(stage, name, action)

    def _again(self, stage: str, name: str, action):
        """``action`` once more, over a new connection."""
        self._connect()
        try:
            return self._guarded(stage, name, action)
        except _ConnectionLost as lost:
            self._disconnect()
            raise lost.error from lost.__cause__

    def _guarded(self, stage: str, name: str, action):
        try:
            return action(self._sftp)
        except Exception as exc:
            error, lost = self._upload_error(exc, stage, name)
            if lost:
                raise _ConnectionLost(error) from exc
            raise error from exc

    def probe(self, remote_name: str, size: int) -> Probe:
        final = self._remote_path(remote_name)

        def look(sftp: paramiko.SFTPClient) -> Probe:
            for path in (final, final + PART_SUFFIX):
                try:
                    found = sftp.stat(path)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise
                    continue
                if path == final:
                    return Probe.DELIVERED
                return Probe.STAGED if found.st_size == size else Probe.PARTIAL
            return Probe.ABSENT

        return self._call("check for", remote_name, look)

    def stage(self, remote_name: str, data: bytes) -> None:
        # Rewritten from the start on a second try: a .part never counts until renamed.
        error = self.stage_all({remote_name: data})[remote_name]
        if error is not None:
            raise error

    def promote(self, remote_name: str) -> None:
        # Never repeated blindly: a lost reply leaves the rename's outcome unknown, and the
        # caller finds out with ``probe``.
        error = self.promote_all([remote_name])[remote_name]
        if error is not None:
            raise error

    def staging(self, remote_names: list[str]) -> _Staging:
        """A batch's ``.part`` files written as each is ready: every open sent now (connecting
        first if need be: a connection refused raises), each file's writes and close sent as it
        is given, every acknowledgement checked by ``finish`` (``sftp_pipeline.FileWrites``). A
        connection lost fails the batch, after one reconnect as ``stage`` does."""
        return _Staging(self, remote_names)

    def stage_all(self, files: dict[str, bytes]) -> dict[str, TransportError | None]:
        return files_stage(self, files)

    def promote_all(self, names: list[str]) -> dict[str, TransportError | None]:
        """``promote`` for a batch: every rename sent at once, one round trip. Each name's error,
        or None once renamed; a name whose reply never came (the connection dropped, a timeout)
        gets ``rename_unknown``, for ``probe`` to settle. Never repeated blindly."""
        if not names:
            return {}
        renames, parts = {}, {}
        for name in names:
            final = self._remote_path(name)
            renames[final + PART_SUFFIX] = final
            parts[final + PART_SUFFIX] = name
        label = _batch_label(names)

        def rename(sftp: paramiko.SFTPClient):
            return files_rename(sftp, renames)

        try:
            replies, stopped = self._call("rename", label, rename, repeatable=False)
        except TransportError as error:  # not connected: no rename was sent
            return dict.fromkeys(names, error)
        outcome: dict[str, TransportError | None] = {
            parts[part]: None
            if failure is None
            else self._file_error(failure, "rename", parts[part])
            for part, failure in replies.items()
        }
        if stopped is not None:
            error, lost = self._upload_error(stopped, "rename", label)
            if lost:
                self._disconnect()
            outcome.update({name: error for name in names if name not in outcome})
        self.accepted += sum(1 for failure in outcome.values() if failure is None)
        return outcome

    def _file_error(self, failure: Exception, stage: str, name: str) -> TransportError:
        return self._upload_error(failure, stage, name)[0]

    def discard(self, remote_name: str) -> None:
        part = self._remote_path(remote_name) + PART_SUFFIX

        def remove(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(part)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise

        self._call("remove", remote_name + PART_SUFFIX, remove)

    def upload(
        self, remote_name: str, data: bytes, *, may_be_delivered: bool = True
    ) -> UploadResult:
        return upload_in_one_go(self, remote_name, data, may_be_delivered=may_be_delivered)

    def _upload_error(self, exc: Exception, stage: str, name: str) -> tuple[TransportError, bool]:
        """The error to raise, and whether the connection is gone."""
        where, folder = self.where, self.remote_dir or "(home)"
        alive = self._alive()
        renaming = stage == "rename"
        if isinstance(exc, TimeoutError):
            return TransportError(
                f"{where} did not answer within {self.timeouts.channel:g} s while trying to "
                f"{stage} {name}; will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
                rename_unknown=renaming,
            ), True
        sftp_status = isinstance(exc, OSError) and exc.errno is not None and alive
        if sftp_status and exc.errno in (errno.EACCES, errno.EPERM):
            return TransportError(
                f"{where} denied user '{self.user}' permission to {stage} files in folder "
                f"'{folder}' ({name})",
                False,
                error_class=ErrorClass.PERMISSION,
                refusal=True,
                file_refusal=True,
                advice="ask OntarioMD to check the account's folder permissions",
            ), False
        if sftp_status and exc.errno == errno.ENOENT and stage == "write":
            return TransportError(
                f"folder '{folder}' does not exist on {where}; check the configured remote folder",
                False,
                error_class=ErrorClass.FOLDER,
                refusal=True,
            ), False
        if sftp_status and exc.errno == errno.ENOENT and renaming:
            # As unknown as a lost reply: an earlier attempt's rename, perhaps.
            return TransportError(
                f"{where}: {name}{PART_SUFFIX} was gone when it was to be renamed; will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
                rename_unknown=True,
            ), False
        if not alive or isinstance(exc, EOFError | paramiko.SSHException | ConnectionError):
            outcome = (
                "the retry will look for the file first"
                if stage == "rename"
                else "nothing was delivered under the final name"
            )
            return TransportError(
                f"the connection to {where} dropped while trying to {stage} {name}; "
                f"{outcome}; will retry",
                False,
                error_class=ErrorClass.UNREACHABLE,
                rename_unknown=renaming,
            ), True
        return TransportError(
            f"{where} could not {stage} {name} ({exc}); will retry",
            False,
            error_class=ErrorClass.UNREACHABLE,
        ), False


class _Staging:
    """``SftpTransport.staging``: the batch's files, and what went wrong for all of them."""

    def __init__(self, transport: SftpTransport, remote_names: list[str]):
        self._transport = transport
        self._parts = {name: transport._remote_path(name) + PART_SUFFIX for name in remote_names}
        self._label = _batch_label(remote_names) if remote_names else ""
        self._given: dict[str, memoryview] = {}  # part path -> bytes, for a reconnect's rewrite
        self._views = contextlib.ExitStack()  # slices of views, not copies of the files
        self._failed: TransportError | None = None
        self._lost = False
        self._reused = transport._connection_ready()
        self._writes = self._step(
            lambda sftp: FileWrites(
                sftp, self._parts.values(), open_at_once=transport.open_files_at_once
            )
        )

    def _step(self, action):
        """``action`` over the connection, unless the batch failed already; an error stops the
        batch, and a lost connection is dropped (its requests' replies would never come)."""
        if self._failed is not None:
            return None
        try:
            return self._transport._guarded("write", self._label, action)
        except _ConnectionLost as lost:
            self._transport._disconnect()
            self._failed, self._lost = lost.error, True
        except TransportError as error:
            self._transport._disconnect()
            self._failed = error
        return None

    def write(self, remote_name: str, data: bytes) -> None:
        part = self._parts[remote_name]
        view = self._given[part] = self._views.enter_context(memoryview(data))
        self._step(lambda sftp: self._writes.write(part, view))

    def drop(self, remote_name: str) -> None:
        self._step(lambda sftp: self._writes.drop(self._parts[remote_name]))

    def finish(self) -> dict[str, TransportError | None]:
        transport = self._transport
        with self._views:
            failures = self._step(lambda sftp: self._writes.finish())
            if failures is None and self._lost and self._reused:
                logger.info("%s: kept connection was gone; reconnecting once", transport.where)
                try:
                    failures = transport._again(
                        "write",
                        self._label,
                        lambda sftp: files_write(
                            sftp, self._given, open_at_once=transport.open_files_at_once
                        ),
                    )
                except TransportError as error:
                    self._failed = error
        names = {part: name for name, part in self._parts.items()}
        if failures is None:
            return {names[part]: self._failed for part in self._given}
        return {
            names[part]: None
            if failure is None
            else transport._file_error(failure, "write", names[part])
            for part, failure in failures.items()
        }


def _batch_label(names) -> str:
    """How a batch is named in an error that concerns all of it."""
    first, *rest = names
    return f"{first} and {len(rest)} other file(s)" if rest else first
