"""The asyncssh side of the sandbox SFTP server (sftp_server.py): who may sign in, and what each
SFTP request does once the server's fault switches have had their say. Each session asks the
server and tells it what happened; the switches and what they mean live there."""

from __future__ import annotations

import asyncio
import posixpath
from typing import TYPE_CHECKING

import asyncssh

if TYPE_CHECKING:
    from sandbox.sftp_server import SandboxSftpServer

_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND


class SandboxSshSession(asyncssh.SSHServer):
    """One SSH connection: public-key sign-in only, as the server's switches allow."""

    def __init__(self, sandbox: SandboxSftpServer):
        self._sandbox = sandbox
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._sandbox.connection_opened(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._sandbox.connection_closed(self._connection)

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._sandbox.key_accepted(username, key)


class SandboxSftpSession(asyncssh.SFTPServer):
    """One SFTP session, chrooted to the server's root, with its faults applied to each request."""

    def __init__(self, chan: asyncssh.SSHServerChannel, sandbox: SandboxSftpServer):
        super().__init__(chan, chroot=bytes(sandbox.root))
        self._sandbox = sandbox
        self._written: dict[int, bytes] = {}

    def _deny_if_read_only(self) -> None:
        if self._sandbox.read_only:
            raise asyncssh.SFTPPermissionDenied("Permission denied (sandbox is read-only)")

    def _deny_if_refused(self, path: bytes) -> None:
        pattern = self._sandbox.refuse_names
        name = posixpath.basename(path.decode("utf-8", "replace"))
        if pattern is not None and pattern.search(name):
            raise asyncssh.SFTPPermissionDenied(
                f"Permission denied: the sandbox HRM refuses {name} (its recipient is not "
                "registered with this HRM)"
            )

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            self._deny_if_read_only()
            self._deny_if_refused(path)
        file_obj = super().open(path, pflags, attrs)
        if pflags & _WRITE_FLAGS:
            self._written[id(file_obj)] = path
            sandbox = self._sandbox
            sandbox.most_open_files = max(sandbox.most_open_files, len(self._written))
        return file_obj

    def close(self, file_obj: object) -> None:
        super().close(file_obj)
        path = self._written.pop(id(file_obj), None)
        if path is not None:
            self._sandbox.file_completed(self.map_path(path))

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        sandbox = self._sandbox
        while sandbox.stall_writes:
            # Hold the upload mid-file, so a test can kill the client in the middle of it.
            sandbox.write_stalled.set()
            await asyncio.sleep(0.02)
        if sandbox.disk_full or sandbox.write_fails(offset, len(data)):
            raise asyncssh.SFTPFailure("No space left on device")
        keep = sandbox.bytes_before_drop(len(data))
        if keep is not None:
            # Write what "arrived" before the cut, so the partial .part is real, then cut.
            super().write(file_obj, offset, data[:keep])
            self.channel.get_connection().abort()
            raise asyncssh.SFTPConnectionLost("Connection dropped by the sandbox")
        return super().write(file_obj, offset, data)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny_if_read_only()
        self._deny_if_refused(newpath)
        super().rename(oldpath, newpath)
        self._sandbox.file_completed(self.map_path(newpath))

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny_if_read_only()
        self._deny_if_refused(newpath)
        super().posix_rename(oldpath, newpath)
        sandbox = self._sandbox
        hook = sandbox.after_rename
        if hook is not None:
            sandbox.after_rename = None
            hook(posixpath.basename(newpath.decode("utf-8", "replace")))
        sandbox.file_completed(self.map_path(newpath))
        if self._sandbox.drop_after_rename:
            self._sandbox.drop_after_rename = False
            self.channel.get_connection().abort()
            raise asyncssh.SFTPConnectionLost("Connection dropped by the sandbox")

    def remove(self, path: bytes) -> None:
        self._deny_if_read_only()
        return super().remove(path)
